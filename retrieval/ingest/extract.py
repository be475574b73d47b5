"""A news page's article text and metadata, read by libraries made for it: trafilatura for
the main text, title, author, site name and canonical link, htmldate for the publication
date (meta tags, JSON-LD, the URL, ``<time>`` elements and dates shown in the page's markup).

htmldate runs without its "extensive search", which guesses from any date-like text on the
page (a copyright line "© 2024" becomes 1 January 2024): a date we cannot read from the
page's markup is left unknown rather than invented."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from retrieval.dates import PartialDate
from retrieval.ingest.records import IngestError

log = logging.getLogger(__name__)

TEXT_FROM = "main text of the page (trafilatura)"
TITLE_FROM = "page metadata (trafilatura)"
AUTHOR_FROM = "page metadata (trafilatura)"
SITE_FROM = "site name in the page (trafilatura)"
URL_FROM = "canonical link of the page (trafilatura)"
DATE_FROM = "publication date in the page (htmldate)"
# the libraries that read pages, whose own log lines (ERROR "empty HTML tree"...) would
# stand beside the one line that says why a page failed
EXTRACTOR_LOGGERS = ("trafilatura", "htmldate", "courlan", "justext")


def quiet_extractor_logs(verbose: bool) -> None:
    """Keep the page readers' own log lines out of a normal run (the failure is said in our
    one line); with ``--verbose`` they show, as the detail. Called once, at the edge."""
    for name in EXTRACTOR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.CRITICAL)


@dataclass(frozen=True)
class Page:
    """What a page says of itself; None where it says nothing."""

    text: str
    title: str | None
    author: str | None
    site_name: str | None
    url: str | None
    date: PartialDate | None


def extract_page(html: bytes, url: str | None = None) -> Page:
    """The article of a news page (``html`` as served or saved; ``url`` where it was
    fetched from, if it was). Raises ``IngestError`` when it holds no article text."""
    import htmldate      # imported when used: they take half a second to import
    import trafilatura

    try:
        document = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                               include_tables=False, favor_precision=True)
    except (ValueError, TypeError) as exc:      # not HTML at all
        raise IngestError(f"not a readable web page ({exc})") from None
    if document is None or not (document.text or "").strip():
        raise IngestError("no article text found on the page (is it an article?)")
    canonical = _clean(document.url)
    try:
        found = htmldate.find_date(html, extensive_search=False, original_date=True,
                                   url=canonical or url, outputformat="%Y-%m-%d")
    except ValueError:
        found = None
    date = None
    if found:
        try:
            date = PartialDate.parse(found)
        except ValueError:
            log.debug("htmldate gave %r, not a date", found)
    return Page(text=document.text, title=_clean(document.title),
                author=_clean(document.author), site_name=_clean(document.sitename),
                url=canonical, date=date)


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None
