"""The article store of a segment: the articles' text and metadata, read by offset.

Files (in the segment's directory, beside its postings)::

    article_text.bin, article_text_offsets.npy   the texts, UTF-8, each compressed alone (raw
                                                 DEFLATE), one after another; byte offsets
    article_meta.bin, article_meta_offsets.npy   per article a JSON object: title, and date,
                                                 url, author when it has them
    article_ids.json                             the ids, in article order
    article_length.npy                           int32: characters of each text
    article_year.npy, article_ordinal.npy        int32 year (-1: no date), float64 date ordinal
                                                 (NaN: no date), for the filters and date cues
    article_source.npy, article_sources.json     int32 number of each article's outlet in the
                                                 segment's list of outlets
    article_url_key.npy                          uint64 key of each article's URL as compared
                                                 (``url_key``; 0: no URL), to find an article
                                                 by its URL without reading the others

A text is compressed alone (about 1.7x on SQuAD paragraphs, 20-30 µs to decompress one), so a
process answering one question decompresses only the articles it quotes, and a merge copies
the compressed bytes as they are; filters and cues work
from the per-article arrays, never from ``Article`` objects."""
from __future__ import annotations

import hashlib
import json
import zlib
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, overload

import numpy as np

from retrieval.corpus import Article, normal_url
from retrieval.dates import PartialDate
from retrieval.storage import CheckedFile

STORE_ARRAYS = ("article_text_offsets", "article_meta_offsets", "article_length",
                "article_year", "article_ordinal", "article_source", "article_url_key")
STORE_BLOBS = ("article_text.bin", "article_meta.bin")
STORE_JSON = ("article_ids", "article_sources")


@dataclass(frozen=True)
class ArticleInfo:
    """An article's metadata without its text (what a reference to it shows)."""

    id: str
    title: str
    source: str
    date: PartialDate | None = None
    url: str | None = None
    author: str | None = None


@dataclass(frozen=True, eq=False)
class StoreData:
    """A store's contents in memory: the blobs (each text compressed, see ``compress_text``),
    the arrays and the two lists."""

    text: bytes
    meta: bytes
    arrays: dict[str, np.ndarray]
    ids: list[str]
    sources: list[str]


# Raw DEFLATE (no header or checksum per article: the segment's manifest has the file's
# checksum, each sentence its hash). An 8 KiB window and a small hash table: a compressor
# is set up for each text, and for a short text its set-up is much of the work (40-70 µs
# for a SQuAD paragraph, 1.75x smaller; decompressing one takes 20-30 µs).
_WBITS, _MEM_LEVEL, _LEVEL = -13, 5, 6


def compress_text(text: str) -> bytes:
    """An article's text as stored: UTF-8, compressed alone."""
    packer = zlib.compressobj(_LEVEL, zlib.DEFLATED, _WBITS, _MEM_LEVEL)
    return packer.compress(text.encode("utf-8", "surrogatepass")) + packer.flush()


def decompress_text(data: bytes) -> str:
    """The text ``compress_text`` stored."""
    return zlib.decompress(data, -15).decode("utf-8", "surrogatepass")


def url_key(url: str | None) -> int:
    """The key of ``url`` as compared (``normal_url``): 64 bits of its digest, never 0 (the
    key of no URL). Equal keys are confirmed by the URLs themselves."""
    if not url:
        return 0
    digest = hashlib.blake2b(normal_url(url).encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little") or 1


def _meta(article: Article) -> bytes:
    # the source is in article_source (a number into the segment's list of outlets)
    meta = {"title": article.title, "date": article.date.iso() if article.date else None,
            "url": article.url, "author": article.author}
    return json.dumps({k: v for k, v in meta.items() if v is not None},
                      ensure_ascii=False).encode("utf-8")


def store_data(articles: Sequence[Article]) -> StoreData:
    """The store of ``articles``, in their order."""
    texts = [compress_text(a.text) for a in articles]
    metas = [_meta(a) for a in articles]
    sources = sorted({a.source for a in articles})
    number = {s: i for i, s in enumerate(sources)}
    arrays = {
        "article_text_offsets": _offsets(texts),
        "article_meta_offsets": _offsets(metas),
        "article_length": np.fromiter((len(a.text) for a in articles), dtype=np.int32,
                                      count=len(articles)),
        "article_year": np.fromiter((a.date.year if a.date else -1 for a in articles),
                                    dtype=np.int32, count=len(articles)),
        "article_ordinal": np.fromiter((a.date.ordinal() if a.date else np.nan
                                        for a in articles), dtype=np.float64,
                                       count=len(articles)),
        "article_source": np.fromiter((number[a.source] for a in articles), dtype=np.int32,
                                      count=len(articles)),
        "article_url_key": np.fromiter((url_key(a.url) for a in articles), dtype=np.uint64,
                                       count=len(articles)),
    }
    return StoreData(b"".join(texts), b"".join(metas), arrays, [a.id for a in articles],
                     sources)


def _offsets(blobs: list[bytes]) -> np.ndarray:
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    return offsets


@dataclass(frozen=True)
class StoreChecks:
    """The store's files on disk, each verified before what is read of it is decoded (the
    ids when they are first read; a text or metadata record's blocks)."""

    ids: CheckedFile
    text: CheckedFile
    meta: CheckedFile


class ArticleStore:
    """The articles of one segment, read by offset from its files (or from memory)."""

    def __init__(self, text: np.ndarray | bytes, meta: np.ndarray | bytes,
                 arrays: dict[str, np.ndarray], ids: list[str] | None, sources: list[str],
                 checks: StoreChecks | None = None) -> None:
        self._text = text
        self._meta = meta
        self.arrays = arrays
        self._ids = ids
        self._checks = checks
        self.sources = sources

    def blob_size(self, name: str) -> int:
        """The bytes of blob ``name`` (one of ``STORE_BLOBS``)."""
        return len(self._text if name == STORE_BLOBS[0] else self._meta)

    @classmethod
    def from_data(cls, data: StoreData) -> "ArticleStore":
        return cls(data.text, data.meta, data.arrays, data.ids, data.sources)

    def __len__(self) -> int:
        return int(self.arrays["article_length"].shape[0])

    @property
    def ids(self) -> list[str]:
        """The article ids (read on first use: a process answering one question without a
        conversation never needs them)."""
        if self._ids is None:
            assert self._checks is not None
            check = self._checks.ids
            data = check.read()
            try:
                ids = json.loads(data.tobytes().decode("utf-8"))
            except ValueError:
                raise check.damaged("is not JSON") from None
            if not isinstance(ids, list) or len(ids) != len(self) or \
                    not all(isinstance(i, str) for i in ids):
                raise check.damaged("does not list the segment's ids")
            self._ids = ids
        return self._ids

    def text(self, number: int) -> str:
        offsets = self.arrays["article_text_offsets"]
        lo, hi = int(offsets[number]), int(offsets[number + 1])
        if self._checks is not None:
            self._checks.text.verify_range(lo, hi)
        try:
            return decompress_text(bytes(self._text[lo:hi]))
        except (zlib.error, UnicodeDecodeError) as exc:   # verified, so written so: a bug
            raise self._damaged("text", f"holds article {number}'s text, which cannot be "
                                f"read ({exc})") from None

    def info(self, number: int) -> ArticleInfo:
        offsets = self.arrays["article_meta_offsets"]
        lo, hi = int(offsets[number]), int(offsets[number + 1])
        if self._checks is not None:
            self._checks.meta.verify_range(lo, hi)
        try:
            meta: dict[str, Any] = json.loads(bytes(self._meta[lo:hi]).decode("utf-8"))
            date = meta.get("date")
            source = self.sources[int(self.arrays["article_source"][number])]
            return ArticleInfo(id=self.ids[number], title=meta["title"], source=source,
                               date=PartialDate.parse(date) if date else None,
                               url=meta.get("url"), author=meta.get("author"))
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._damaged("meta", f"holds article {number}'s metadata, which cannot be "
                                f"read ({type(exc).__name__})") from None

    def _damaged(self, blob: str, problem: str) -> Exception:
        """The error of a record that cannot be decoded: ``IndexFormatError`` naming the file
        for a store on disk; in memory, where nothing is damaged, a ``ValueError``."""
        if self._checks is None:
            return ValueError(problem)
        check: CheckedFile = getattr(self._checks, blob)
        return check.damaged(problem)

    def article(self, number: int) -> Article:
        return _joined(self.info(number), self.text(number))


def _joined(info: ArticleInfo, text: str) -> Article:
    """The article of ``info`` and ``text``."""
    return Article(id=info.id, title=info.title, source=info.source, text=text,
                   date=info.date, url=info.url, author=info.author)


class Articles(Sequence[Article]):
    """The articles of several segments as one sequence, numbered globally in segment order
    (the numbering of the index's passages and sentences). Deleted articles keep their
    numbers (nothing quotes them: their passages never score); ``live`` says which are not."""

    def __init__(self, stores: Sequence[ArticleStore], live: np.ndarray | None = None) -> None:
        self._stores = tuple(stores)
        # The articles a question quotes are read several times (answer, context, others),
        # whole, or their metadata or text alone (a text is decompressed, metadata parsed):
        # both are kept, and a whole article is made of them.
        self._info = lru_cache(maxsize=1024)(self._located_info)
        self._text = lru_cache(maxsize=256)(self._located_text)
        self._bases = np.zeros(len(self._stores) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in self._stores], out=self._bases[1:])
        self._first: list[int] = self._bases[:-1].tolist()
        self._count = int(self._bases[-1])
        self.live = live          # None: every article is live

    def __len__(self) -> int:
        return self._count

    def _locate(self, number: int) -> tuple[ArticleStore, int]:
        if not 0 <= number < len(self):
            raise IndexError(f"article number {number} out of range")
        # bisect on a list: numpy's searchsorted costs microseconds per call on a small array
        segment = bisect_right(self._first, number) - 1
        return self._stores[segment], number - self._first[segment]

    @overload
    def __getitem__(self, number: int) -> Article: ...
    @overload
    def __getitem__(self, number: slice) -> list[Article]: ...

    def __getitem__(self, number: int | slice) -> Article | list[Article]:
        if isinstance(number, slice):
            return [self[i] for i in range(*number.indices(len(self)))]
        number = int(number)
        return _joined(self._info(number), self._text(number))

    def __iter__(self) -> Iterator[Article]:
        for store in self._stores:
            for local in range(len(store)):
                yield store.article(local)

    def info(self, number: int) -> ArticleInfo:
        """The metadata of article ``number`` alone (its text left unread)."""
        return self._info(int(number))

    def text(self, number: int) -> str:
        """The text of article ``number`` alone (its metadata left unread)."""
        return self._text(int(number))

    def _located_info(self, number: int) -> ArticleInfo:
        store, local = self._locate(number)
        return store.info(local)

    def _located_text(self, number: int) -> str:
        store, local = self._locate(number)
        return store.text(local)

    def with_url(self, url: str) -> list[int]:
        """The numbers of the live articles whose URL is ``url`` as compared (``normal_url``):
        a look-up of one key per segment, then the candidates' own URLs."""
        key, wanted = url_key(url), normal_url(url)
        if key == 0:
            return []
        found = []
        for base, store in zip(self._first, self._stores):
            for local in np.flatnonzero(np.asarray(store.arrays["article_url_key"]) == key):
                number = base + int(local)
                if (self.live is None or self.live[number]) and \
                        normal_url(self.info(number).url or "") == wanted:
                    found.append(number)
        return found

    def live_articles(self) -> Iterator[Article]:
        """The articles not deleted, in order."""
        if self.live is None:
            yield from self
            return
        for number in np.flatnonzero(self.live):
            yield self[int(number)]

    def _concat(self, name: str) -> np.ndarray:
        parts = [s.arrays[name] for s in self._stores]
        if not parts:             # an index of no articles (an empty corpus)
            return store_data([]).arrays[name]
        return np.concatenate(parts) if len(parts) != 1 else np.asarray(parts[0])

    @cached_property
    def ids(self) -> list[str]:
        return [i for s in self._stores for i in s.ids]

    @cached_property
    def lengths(self) -> np.ndarray:
        return self._concat("article_length")

    @cached_property
    def years(self) -> np.ndarray:
        return self._concat("article_year")

    @cached_property
    def ordinals(self) -> np.ndarray:
        return self._concat("article_ordinal")

    @cached_property
    def _source_table(self) -> tuple[list[str], np.ndarray]:
        names = sorted({n for s in self._stores for n in s.sources})
        position = {n: i for i, n in enumerate(names)}
        codes = [np.asarray([position[n] for n in s.sources], dtype=np.int32)[
            s.arrays["article_source"]] if s.sources else np.zeros(0, dtype=np.int32)
                 for s in self._stores]
        return names, (np.concatenate(codes) if codes else np.zeros(0, dtype=np.int32))

    @property
    def source_names(self) -> list[str]:
        """Every outlet named by an article (deleted ones included), sorted."""
        return self._source_table[0]

    @property
    def source_codes(self) -> np.ndarray:
        """Per article, its outlet's position in ``source_names``."""
        return self._source_table[1]

    def live_sources(self) -> list[str]:
        """The outlets of the live articles, sorted as people read them."""
        codes = self.source_codes if self.live is None else self.source_codes[self.live]
        names = self.source_names
        return sorted({names[c] for c in np.unique(codes)}, key=str.casefold)

    def live_years(self) -> list[int]:
        """The years of the live articles that have a date, sorted."""
        years = self.years if self.live is None else self.years[self.live]
        return sorted(int(y) for y in np.unique(years) if y >= 0)
