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

from retrieval.corpus import Article, article_from_record, load_corpus
from retrieval.dates import PartialDate
from retrieval.errors import CorpusError
from retrieval.ingest.duplicates import DuplicateFinder, text_key
from retrieval.ingest.fetch import Fetched, fetch, is_url, new_client
from retrieval.ingest.records import Draft, IngestError, Origin, Outcome
from retrieval.ingest.sources import Job, jobs
from retrieval.ingest.store import (article_id, corpus_directory, stored_origins,
                                    write_article)
from retrieval.settings import IngestSettings
from retrieval.text import SegmentationRules, segment_article

log = logging.getLogger(__name__)


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
                 client: httpx.Client | None = None,
                 clock: Callable[[], str] = _utc_now) -> None:
        self.directory = corpus_directory(corpus)
        self.settings = settings
        self.rules = rules
        self._client = client
        self._clock = clock
        self.finder = DuplicateFinder(settings.syndicated_similarity)
        self._ids: set[str] = set()
        self._know_corpus()

    def _know_corpus(self) -> None:
        if not self.directory.is_dir() or not any(self.directory.iterdir()):
            return
        fetched = {s.article_id: (s.origin.fetched, s.origin.given)
                   for s in stored_origins(self.directory) if s.origin is not None}
        try:
            articles = load_corpus(self.directory).articles
        except CorpusError as exc:
            if "holds no article files" in str(exc):
                return
            raise
        for article in articles:
            self._ids.add(article.id)
            self.finder.add(article, fetched.get(article.id, ()))

    # ------------------------------------------------------------------------ fetching
    def fetch(self, url: str) -> Fetched:
        if self._client is None:
            self._client = new_client(self.settings)
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
                yield from list(jobs(source, self.fetch))
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
        duplicate = self.finder.duplicate(article.text, urls if draft.article_id is None else ())
        if duplicate is None and article.id in self._ids:
            duplicate_id, why = article.id, "same id"
        elif duplicate is not None:
            duplicate_id, why = duplicate.article_id, duplicate.why
        else:
            duplicate_id = why = None
        if duplicate_id is not None:
            return Outcome(job.label, "duplicate", f"already in the corpus as {duplicate_id} "
                                                   f"({why})", article)
        copy = self.finder.copy_of(article.text)
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
