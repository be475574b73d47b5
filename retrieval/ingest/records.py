"""The records passed between the steps of ingestion, and its error."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from retrieval.corpus import Article
from retrieval.dates import PartialDate
from retrieval.errors import QABotError

METADATA = ("title", "source", "date", "author", "url")


class IngestError(QABotError):
    """One source cannot be added: the message says why, in a line for people."""


@dataclass(frozen=True)
class Draft:
    """What one source gave before the person's flags and our checks: the text as
    extracted, the metadata found (None when not found) and where each field came from."""

    label: str                      # how the source is named in messages
    given: str                      # the SOURCE as the person gave it
    text: str
    title: str | None = None
    source: str | None = None
    date: PartialDate | None = None
    author: str | None = None
    url: str | None = None
    found_in: tuple[tuple[str, str], ...] = ()   # (field, where it came from)
    fetched: str | None = None      # the URL the page came from, after redirects
    feed: str | None = None         # the feed that listed it
    original: bytes | None = None   # the page as served or saved, kept beside the article
    article_id: str | None = None   # an id the source gave itself (front matter, .jsonl)

    def with_field(self, name: str, value: Any, where: str) -> "Draft":
        """A copy with ``name`` set to ``value``, found in ``where``."""
        found = tuple((k, w) for k, w in self.found_in if k != name) + ((name, where),)
        return replace(self, **{name: value}, found_in=found)

    def where(self, name: str) -> str | None:
        return dict(self.found_in).get(name)


@dataclass(frozen=True)
class Origin:
    """Where and when an article came from, kept in its file's ``[origin]`` table."""

    added: str                      # ISO 8601 time (UTC) of the add
    given: str                      # the SOURCE as given
    fetched: str | None = None
    feed: str | None = None
    original: str | None = None     # the file beside the article holding the original page
    syndicated_of: str | None = None   # the article this one is a near-identical copy of
    fields: tuple[tuple[str, str], ...] = field(default=())   # where each field came from

    def to_table(self) -> dict[str, str | dict[str, str]]:
        table: dict[str, str | dict[str, str]] = {
            key: value for key, value in (("added", self.added), ("given", self.given),
                                          ("fetched", self.fetched), ("feed", self.feed),
                                          ("original", self.original),
                                          ("syndicated_of", self.syndicated_of))
            if value is not None}
        if self.fields:
            table["fields"] = dict(self.fields)
        return table

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> "Origin | None":
        """The origin in an article file's ``[origin]`` table, or None when it is not one
        (written by hand, another layout)."""
        text = {k: v for k, v in table.items() if isinstance(v, str)}
        if "added" not in text or "given" not in text:
            return None
        fields = table.get("fields")
        return cls(added=text["added"], given=text["given"], fetched=text.get("fetched"),
                   feed=text.get("feed"), original=text.get("original"),
                   syndicated_of=text.get("syndicated_of"),
                   fields=tuple((str(k), str(v)) for k, v in fields.items())
                   if isinstance(fields, dict) else ())


Status = Literal["added", "would add", "duplicate", "failed"]


@dataclass(frozen=True)
class Outcome:
    """What became of one source (or one entry of a feed)."""

    label: str
    status: Status
    message: str = ""               # why it failed, or what it duplicates
    article: Article | None = None
    origin: Origin | None = None
