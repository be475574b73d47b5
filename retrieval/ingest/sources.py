"""What a SOURCE of ``qabot add`` is, and the drafts it gives.

A source is a link (``http://``/``https://``: a page or a feed, told by what the server
sends), a file (``.html``/``.htm`` a saved page; ``.xml``/``.rss``/``.atom`` a feed;
``.txt``/``.md``/``.markdown`` text with or without our front matter; ``.jsonl`` records; any
other name is recognised by its content when it is a page or a feed) or a directory (each
file in it). A feed gives one job per entry: the entry's page, fetched when the job runs.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar
from pathlib import Path

from retrieval.corpus import (FRONT_MATTER_FENCE, Article, parse_article_file, read_jsonl_file,
                              read_text_file)
from retrieval.errors import CorpusError
from retrieval.ingest.extract import (AUTHOR_FROM, DATE_FROM, SITE_FROM, TEXT_FROM, TITLE_FROM,
                                      URL_FROM, extract_page)
from retrieval.ingest.feeds import (FEED_AUTHOR_FROM, FEED_TITLE_FROM, Feed,
                                    FeedEntry, looks_like_feed, parse_feed)
from retrieval.ingest.fetch import Fetched, host_of, is_url
from retrieval.ingest.records import Draft, IngestError

PAGE_SUFFIXES = frozenset({".html", ".htm"})
FEED_SUFFIXES = frozenset({".xml", ".rss", ".atom"})
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
RECORD_SUFFIXES = frozenset({".jsonl"})
_HTML_START = re.compile(rb"^(?:\s|<!--.*?-->)*<(?:!DOCTYPE\s+html|html|head|body)\b",
                         re.DOTALL | re.IGNORECASE)
_MARKDOWN_TITLE = re.compile(r"\A\s*#[ \t]+(.+?)[ \t#]*$", re.MULTILINE)

Fetcher = Callable[[str], Fetched]
T = TypeVar("T")


@dataclass(frozen=True)
class Job:
    """One article to make: ``label`` names it in messages; ``draft`` reads (or fetches) it
    and raises ``IngestError`` when it cannot."""

    label: str
    draft: Callable[[], Draft]


def jobs(source: str, fetcher: Fetcher, max_bytes: int) -> Iterator[Job]:
    """The jobs of one SOURCE. A source that cannot be read at all raises ``IngestError``;
    a feed is fetched and read here, its entries' pages when their jobs run. A file of more
    than ``max_bytes`` is not read (as a download of more is stopped)."""
    if not source.strip():    # not the current directory, as Path("") would read it
        raise IngestError("an empty source name (a file, a directory or a link)")
    if is_url(source):
        fetched = fetcher(source)
        if looks_like_feed(fetched.body) and not fetched.is_page:
            yield from _feed_jobs(source, parse_feed(fetched.body, fetched.final_url), fetcher,
                                  source)
        else:
            yield Job(source, lambda: _fetched_page(fetched, source, source))
        return
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise IngestError(f"{source}: the directory holds no files")
        for file in files:   # a file that cannot be read fails alone
            try:
                yield from list(_file_jobs(file, str(file), fetcher, max_bytes))
            except IngestError as exc:
                yield failed_job(str(file), str(exc))
        return
    if not path.exists():
        raise IngestError(f"{source}: no such file or directory (a link starts with "
                          "http:// or https://)")
    yield from _file_jobs(path, source, fetcher, max_bytes)


def _file_jobs(path: Path, label: str, fetcher: Fetcher, max_bytes: int) -> Iterator[Job]:
    """The jobs of one file, named ``label`` in messages and by its absolute path in the
    article's origin."""
    given = str(path.resolve())
    size = _read(lambda: path.stat().st_size)
    if size > max_bytes:
        raise IngestError(f"{label}: the file is {size:,} bytes, more than ingest.max_bytes "
                          f"({max_bytes:,})")
    suffix = path.suffix.lower()
    if suffix in RECORD_SUFFIXES:
        try:
            records = read_jsonl_file(path)
        except CorpusError as exc:
            raise IngestError(str(exc)) from None
        for article, where in records:
            if isinstance(article, CorpusError):   # this line fails alone
                yield failed_job(where, str(article))
            else:
                yield Job(where, lambda article=article, where=where:
                          _article_draft(article, where, given))
        return
    if suffix in TEXT_SUFFIXES:
        yield Job(label, lambda: _text_draft(path, label, given))
        return
    head = b"" if suffix in FEED_SUFFIXES | PAGE_SUFFIXES else _read(lambda: _head(path))
    if suffix in FEED_SUFFIXES or looks_like_feed(head):
        yield from _feed_jobs(label, parse_feed(_read(path.read_bytes), given), fetcher, given)
    elif suffix in PAGE_SUFFIXES or _HTML_START.match(head):
        yield Job(label, lambda: page_draft(_read(path.read_bytes), label=label, given=given))
    else:
        raise IngestError(f"{label}: not a web page, a feed, a text or Markdown file or a "
                          ".jsonl file")


def failed_job(label: str, why: str) -> Job:
    """A job that fails, saying ``why``, when it runs: a file of a directory or a line of a
    .jsonl that cannot be read, among others that can."""
    def fail() -> Draft:
        raise IngestError(why)
    return Job(label, fail)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(4096)


def _read(read: Callable[[], T]) -> T:
    try:
        return read()
    except OSError as exc:
        raise IngestError(f"cannot read {exc.filename or 'it'} ({exc.strerror or exc})") \
            from None


def _feed_jobs(label: str, feed: Feed, fetcher: Fetcher, given: str) -> Iterator[Job]:
    if not feed.entries:
        raise IngestError(f"{label}: the feed lists no entries with a link")
    for entry in feed.entries:
        entry_label = f"{label} › {entry.link}"
        yield Job(entry_label, lambda entry=entry, entry_label=entry_label:
                  _entry_draft(entry, entry_label, given, fetcher))


def _entry_draft(entry: FeedEntry, label: str, feed: str, fetcher: Fetcher) -> Draft:
    fetched = fetcher(entry.link)
    draft = _fetched_page(fetched, label, entry.link, feed=feed)
    for name, value, where in (("title", entry.title, FEED_TITLE_FROM),
                               ("date", entry.date, entry.date_from),
                               ("author", entry.author, FEED_AUTHOR_FROM)):
        if getattr(draft, name) is None and value is not None:   # the page's own first
            draft = draft.with_field(name, value, where)
    return draft


def _fetched_page(fetched: Fetched, label: str, given: str, feed: str | None = None) -> Draft:
    if not fetched.is_page and looks_like_feed(fetched.body):
        raise IngestError("a feed, where a page was expected")
    return page_draft(fetched.body, label=label, given=given, fetched=fetched.final_url,
                      feed=feed)


def page_draft(html: bytes, *, label: str, given: str, fetched: str | None = None,
               feed: str | None = None) -> Draft:
    """The draft of a page: its text and what it says of itself; the outlet from the domain
    when the page names no site."""
    page = extract_page(html, fetched)
    draft = Draft(label=label, given=given, text=page.text, fetched=fetched, feed=feed,
                  original=html, found_in=(("text", TEXT_FROM),))
    url, url_from = (page.url, URL_FROM) if page.url else (fetched, "the address it was "
                                                                    "fetched from")
    for name, value, where in (("title", page.title, TITLE_FROM),
                               ("author", page.author, AUTHOR_FROM),
                               ("date", page.date, DATE_FROM),
                               ("url", url, url_from),
                               ("source", page.site_name, SITE_FROM)):
        if value is not None:
            draft = draft.with_field(name, value, where)
    if draft.source is None and url:
        draft = draft.with_field("source", host_of(url).removeprefix("www."),
                                 f"domain of {url}")
    return draft


def _text_draft(path: Path, label: str, given: str) -> Draft:
    try:
        raw = read_text_file(path)
    except CorpusError as exc:   # not UTF-8, unreadable
        raise IngestError(str(exc)) from None
    if raw.lstrip("\ufeff").startswith(FRONT_MATTER_FENCE):
        try:
            article = parse_article_file(raw, label)
        except CorpusError as exc:   # the file and the problem
            raise IngestError(str(exc)) from None
        return _article_draft(article, label, given)
    draft = Draft(label=label, given=given, text=raw, found_in=(("text", "the file as given"),))
    if path.suffix.lower() in (".md", ".markdown"):
        heading = _MARKDOWN_TITLE.match(raw)
        if heading:
            draft = draft.with_field("title", heading.group(1).strip(),
                                     "first heading of the Markdown file")
    return draft


def _article_draft(article: Article, where: str, given: str) -> Draft:
    """A draft of an article already in our format (front matter or a .jsonl record)."""
    found = f"its record in {where}"
    draft = Draft(label=where, given=given, text=article.text, article_id=article.id,
                  found_in=(("text", found),))
    for name in ("title", "source", "date", "author", "url"):
        value = getattr(article, name)
        if value is not None:
            draft = draft.with_field(name, value, found)
    return draft
