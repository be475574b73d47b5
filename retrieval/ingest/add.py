"""Adding sources to the corpus directory: from each source's drafts to article files.

``Ingester.plan`` turns the SOURCEs into jobs (a feed into one per entry) and ``run`` makes
one job an ``Outcome``: the person's flags applied, the metadata checked (a title and an
outlet are required, an unknown date stays unknown), the text checked to hold article prose,
duplicates refused, syndicated copies recognised, and the article written (not with
``dry_run``). One failing source never stops the others."""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

import numpy as np

from retrieval.answer.passages import PassageSearcher
from retrieval.corpus import Article, article_from_record
from retrieval.dates import PartialDate
from retrieval.errors import CorpusError
from retrieval.index import TfidfIndex
from retrieval.ingest.duplicates import (Candidates, Duplicate, DuplicateFinder, Known,
                                         UrlLookup, text_key)
from retrieval.ingest.fetch import Fetched, fetch, is_url, new_client
from retrieval.ingest.records import Draft, IngestError, Origin, Outcome
from retrieval.ingest.sources import Job, jobs
from retrieval.ingest.store import (article_id, check_file_id, corpus_directory, origin_of,
                                    remove_temporaries, write_article)
from retrieval.settings import IngestSettings
from retrieval.text import SegmentationRules, segment_article

log = logging.getLogger(__name__)

QUERY_TERMS = 24          # a new text's rarest terms, asked of the index...
CANDIDATE_PASSAGES = 10   # ...for this many passages, whose articles are compared with it


@dataclass(frozen=True)
class AddOptions:
    """The person's word on every added article (``qabot add --title/--source/--date``):
    it wins over what a page says, and fills what it does not."""

    title: str | None = None
    source: str | None = None
    date: PartialDate | None = None
    dry_run: bool = False


def _utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat() \
        .replace("+00:00", "Z")


class Ingester:
    """Adds sources to the corpus directory ``corpus``; knows its articles (to refuse
    duplicates) from the start and those it adds as it goes."""

    def __init__(self, corpus: Path, settings: IngestSettings, rules: SegmentationRules, *,
                 index: TfidfIndex | None = None, client: httpx.Client | None = None,
                 clock: Callable[[], str] = _utc_now, private_addresses: bool = True) -> None:
        """``index`` is the corpus's current index (duplicates are looked for in it); without
        one, only among the articles added by this ``Ingester``. Without
        ``private_addresses``, links (and their redirects) to loopback or private addresses
        are refused (the Discord /add of a member, unlike the machine's own user)."""
        self.directory = corpus_directory(corpus)
        remove_temporaries(self.directory)     # what killed adds left
        self.settings = settings
        self.rules = rules
        self._client = client
        self._clock = clock
        self._private_addresses = private_addresses
        self.finder = DuplicateFinder(
            settings.syndicated_similarity,
            None if index is None else indexed_candidates(index, self.directory),
            None if index is None else indexed_url(index))
        self._ids: set[str] = set() if index is None else live_ids(index)

    # ------------------------------------------------------------------------ fetching
    def fetch(self, url: str) -> Fetched:
        if self._client is None:
            self._client = new_client(self.settings,
                                      private_addresses=self._private_addresses)
        return fetch(url, self._client, self.settings)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def __enter__(self) -> "Ingester":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------------------- adding
    def plan(self, sources: Sequence[str]) -> Iterator[Job | Outcome]:
        """The jobs of ``sources`` in order, or a failed ``Outcome`` for a source that cannot
        be read at all (a missing file, a feed that cannot be fetched)."""
        for source in sources:
            try:
                yield from list(jobs(source, self.fetch, self.settings.max_bytes))
            except IngestError as exc:
                yield Outcome(source, "failed", _without_label(str(exc), source))

    def run(self, job: Job, options: AddOptions = AddOptions()) -> Outcome:
        """Make ``job``'s article and add it (or say what would be added)."""
        try:
            draft = self._finished(job.draft(), options)
            article, urls = self._article(draft)
        except IngestError as exc:
            return Outcome(job.label, "failed", _without_label(str(exc), job.label))
        # A record with an id of its own (front matter, .jsonl) is told apart by its id and
        # its text: several records may share a URL (the paragraphs of one page).
        judged = self.finder.judge(article.text, urls if draft.article_id is None else ())
        if not isinstance(judged, Duplicate) and article.id in self._ids:
            judged = Duplicate(article.id, "same id")
        if isinstance(judged, Duplicate):
            return Outcome(job.label, "duplicate", f"already in the corpus as "
                                                   f"{judged.article_id} ({judged.why})", article)
        copy = judged
        origin = Origin(added=self._clock(), given=draft.given, fetched=draft.fetched,
                        feed=draft.feed,
                        original=article.id + ".html" if draft.original is not None else None,
                        syndicated_of=copy.article_id if copy else None,
                        fields=tuple(sorted(draft.found_in)))
        message = (f"a syndicated copy of {copy.article_id}: {copy.similarity:.0%} of its "
                   "5-word runs shared") if copy else ""
        if not options.dry_run:
            try:
                write_article(self.directory, article, origin, draft.original)
            except IngestError as exc:
                return Outcome(job.label, "failed", str(exc))
        self._ids.add(article.id)
        self.finder.add(article, urls)
        return Outcome(job.label, "would add" if options.dry_run else "added", message,
                       article, origin)

    def add_one(self, source: str, options: AddOptions = AddOptions()) -> Outcome:
        """Add ``source`` when it is one article (a page); a feed or a file of several
        articles fails, saying so."""
        planned = list(self.plan([source]))
        if len(planned) != 1:
            return Outcome(source, "failed", f"it holds {len(planned)} articles (a feed?), not "
                                             "one: add it with `qabot add`")
        item = planned[0]
        return item if isinstance(item, Outcome) else self.run(item, options)

    def _finished(self, draft: Draft, options: AddOptions) -> Draft:
        """``draft`` with the person's flags applied, checked to be an article."""
        for name in ("title", "source", "date"):
            value = getattr(options, name)
            if value is not None:
                draft = draft.with_field(name, value, f"--{name} given to qabot add")
        if draft.title is None:
            raise IngestError("no title found: give one with --title")
        if draft.source is None:
            raise IngestError("no outlet found: give one with --source")
        if not segment_article(draft.text, draft.title, self.rules):
            raise IngestError("no article text found (no paragraph of complete sentences)")
        if draft.date is None:
            draft = draft.with_field("date", None, "not found: the date is unknown")
        return draft

    def _article(self, draft: Draft) -> tuple[Article, list[str | None]]:
        """The article of a finished draft, and the URLs it is known by."""
        ident = draft.article_id or article_id(draft.title, text_key(draft.text))
        check_file_id(ident)
        record = {"id": ident, "title": draft.title, "source": draft.source,
                  "text": draft.text, "url": draft.url, "author": draft.author,
                  "date": draft.date.iso() if draft.date else None}
        try:
            article = article_from_record(record, draft.label)
        except CorpusError as exc:
            raise IngestError(str(exc)) from None
        return article, [article.url, draft.fetched, draft.given if is_url(draft.given) else None]


def _without_label(message: str, label: str) -> str:
    """An error message without the source's name at its start (the line names it)."""
    return message.removeprefix(label + ": ")


def live_ids(index: TfidfIndex) -> set[str]:
    """The ids of the articles ``index`` holds, without those removed (tombstoned) since it
    was compacted: a removed article can be added again."""
    live = index.articles_.live
    ids = index.articles_.ids
    return set(ids) if live is None else {i for i, keep in zip(ids, live) if keep}


def indexed_url(index: TfidfIndex) -> UrlLookup:
    """A look-up of the id of the live article of ``index`` whose own URL is ``url`` (as
    compared: ``normal_url``), if there is one."""
    def lookup(url: str) -> str | None:
        found = index.articles_.with_url(url)
        return index.articles_.ids[found[0]] if found else None
    return lookup


def indexed_candidates(index: TfidfIndex, directory: Path) -> Candidates:
    """The candidates for duplicates of a text in ``index``: the articles of the passages that
    best match its rarest terms (a copy, or the same text, matches them all), each with its
    URL and those its origin in ``directory`` records."""
    def candidates(text: str) -> list[Known]:
        term_ids, weights = index.query_vector(text)
        if term_ids.size > QUERY_TERMS:
            keep = np.argsort(-index.idf_[term_ids], kind="stable")[:QUERY_TERMS]
            term_ids, weights = term_ids[keep], weights[keep]
        if term_ids.size == 0:
            return []
        top = PassageSearcher(index).best_passages(term_ids, weights, CANDIDATE_PASSAGES)
        found = []
        for number in dict.fromkeys(int(n) for n in index.passage_article_[top.passage_ids]):
            article = index.articles_[number]
            origin = origin_of(directory, article.id)
            urls = (article.url,) + ((origin.fetched, origin.given) if origin else ())
            found.append(Known(article.id, article.text, tuple(u for u in urls if u)))
        return found
    return candidates
