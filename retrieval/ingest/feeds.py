"""RSS and Atom feeds, read by feedparser: the link, title, date and author of each entry.

feedparser is only ever handed bytes (given a string it would fetch it as a URL)."""
from __future__ import annotations

import datetime as dt
import email.utils
import re
import time
from dataclasses import dataclass

from retrieval.dates import PartialDate
from retrieval.ingest.records import IngestError

FEED_DATE_FROM = "date of the feed entry (feedparser)"
FEED_UPDATED_FROM = ("date the feed entry was last updated (feedparser; the feed gives no "
                     "publication date)")
FEED_TITLE_FROM = "title of the feed entry (feedparser)"
FEED_AUTHOR_FROM = "author of the feed entry (feedparser)"
# The root element of a feed, after an XML declaration, comments or a doctype (with an
# internal subset of declarations between [ and ] or not), or a doctype naming it (its
# subset may be longer than what is looked at).
_FEED_ROOT = re.compile(rb"^(?:\s|<\?[^>]*\?>|<!--.*?-->|<!DOCTYPE(?:[^>\[]|\[.*?\])*>)*"
                        rb"(?:<|<!DOCTYPE\s+)(?:rss|feed|rdf:RDF)\b",
                        re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class FeedEntry:
    link: str
    title: str | None
    date: PartialDate | None
    author: str | None
    date_from: str = FEED_DATE_FROM     # the origin of ``date``: published, or only updated


@dataclass(frozen=True)
class Feed:
    title: str | None
    entries: tuple[FeedEntry, ...]


def looks_like_feed(data: bytes) -> bool:
    """Whether ``data`` starts as an RSS, RDF or Atom document."""
    return bool(_FEED_ROOT.match(data.removeprefix(b"\xef\xbb\xbf")[:4096]))


def parse_feed(data: bytes, location: str) -> Feed:
    """The entries of the feed ``data`` read from ``location`` (a URL or a file name, against
    which relative links are resolved). Raises ``IngestError`` when it is not a feed."""
    import feedparser   # imported when used

    parsed = feedparser.parse(data, response_headers={"content-location": location})
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise IngestError("not an RSS or Atom feed" + (f" ({reason})" if reason else ""))
    entries = []
    for entry in parsed.entries:
        link = entry.get("link")
        if not link:
            continue
        date, date_from = _entry_date(entry)
        entries.append(FeedEntry(link=link, title=_text(entry.get("title")), date=date,
                                 author=_text(entry.get("author")), date_from=date_from))
    return Feed(title=_text(parsed.feed.get("title")), entries=tuple(entries))


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _entry_date(entry: dict) -> tuple[PartialDate | None, str]:
    """The day of the entry's publication (else its last update, as the origin then says) as
    the feed wrote it, in the feed's own offset, as a page's meta tag is read: feedparser's
    ``*_parsed`` times are converted to UTC, so they are only used when the text cannot be
    read."""
    for key, origin in (("published", FEED_DATE_FROM), ("updated", FEED_UPDATED_FROM)):
        written = entry.get(key)
        if isinstance(written, str) and written.strip():
            local = _written_day(written.strip())
            return (local if local is not None else _date(entry.get(key + "_parsed"))), origin
    return None, FEED_DATE_FROM


def _written_day(written: str) -> PartialDate | None:
    """The day of an RFC 822 (RSS) or ISO 8601 (Atom, Dublin Core) date, in its own offset."""
    try:
        moment = email.utils.parsedate_to_datetime(written)
    except (TypeError, ValueError, IndexError):
        try:
            moment = dt.datetime.fromisoformat(written)
        except ValueError:
            return None
    return _date(moment.timetuple())


def _date(value: time.struct_time | None) -> PartialDate | None:
    if value is None:
        return None
    try:
        return PartialDate.parse(f"{value.tm_year:04d}-{value.tm_mon:02d}-{value.tm_mday:02d}")
    except ValueError:
        return None
