"""Telling an article we already have from a new one.

* The same URL (scheme and host in any case, without the ``#fragment``) or the same text
  (the same words, whatever the spacing, case or Unicode form) is a duplicate: not added.
* A near-identical copy (a syndicated story republished by another outlet, with its own
  headline and furniture) is added, and recognised as a copy of the first: the share of
  5-word runs the two texts have in common (their Jaccard similarity) is at least
  ``ingest.syndicated_similarity``. MinHash signatures (64 hashes per article) find the
  candidates in one vectorised pass; the exact similarity is then computed for the best.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from retrieval.corpus import Article
from retrieval.text import normal_words

SHINGLE_WORDS = 5
_HASHES = 64
_SLACK = 0.15      # MinHash estimates within this of the threshold are checked exactly


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20261126)
    a = rng.integers(1, 2**63, size=_HASHES, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=_HASHES, dtype=np.uint64)
    return a, b


def normal_url(url: str) -> str:
    """``url`` as compared: scheme and host in lower case, no fragment, no empty path."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       parts.query, ""))


def text_key(text: str) -> str:
    """A digest of the words of ``text``: equal for texts that differ only in spacing,
    case or Unicode form."""
    return hashlib.blake2b(" ".join(normal_words(text)).encode("utf-8", "surrogatepass"),
                           digest_size=16).hexdigest()


def shingles(text: str) -> set[str]:
    """The runs of ``SHINGLE_WORDS`` consecutive words of ``text`` (the whole text when it is
    shorter)."""
    words = normal_words(text)
    if len(words) <= SHINGLE_WORDS:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i:i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class Duplicate:
    """An article we already have, and why a new one is the same."""

    article_id: str
    why: str          # "same URL", "same text"


@dataclass(frozen=True)
class Copy:
    """The article a new one is a near-identical copy of, and how similar they are."""

    article_id: str
    similarity: float


class DuplicateFinder:
    """The URLs, texts and MinHash signatures of the articles we have; ``add`` what is added."""

    def __init__(self, syndicated_similarity: float) -> None:
        self.syndicated_similarity = syndicated_similarity
        self._a, self._b = _permutations()
        self._urls: dict[str, str] = {}
        self._texts: dict[str, str] = {}
        self._ids: list[str] = []
        self._bodies: list[str] = []
        self._signatures: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    def add(self, article: Article, urls: Iterable[str | None] = ()) -> None:
        """Know ``article`` (and the other ``urls`` it was fetched from)."""
        for url in (article.url, *urls):
            if url:
                self._urls.setdefault(normal_url(url), article.id)
        self._texts.setdefault(text_key(article.text), article.id)
        self._ids.append(article.id)
        self._bodies.append(article.text)
        self._signatures.append(self._signature(shingles(article.text)))
        self._matrix = None

    def duplicate(self, text: str, urls: Iterable[str | None]) -> Duplicate | None:
        """The article that ``text`` (found at ``urls``) already is, or None."""
        for url in urls:
            if url and normal_url(url) in self._urls:
                return Duplicate(self._urls[normal_url(url)], "same URL")
        known = self._texts.get(text_key(text))
        return Duplicate(known, "same text") if known is not None else None

    def copy_of(self, text: str) -> Copy | None:
        """The article ``text`` is a near-identical copy of (the most similar), or None."""
        if not self._ids:
            return None
        if self._matrix is None:
            self._matrix = np.vstack(self._signatures)
        own = shingles(text)
        estimates = (self._matrix == self._signature(own)).mean(axis=1)
        best: Copy | None = None
        for row in np.flatnonzero(estimates >= self.syndicated_similarity - _SLACK):
            similarity = jaccard(own, shingles(self._bodies[row]))
            if similarity >= self.syndicated_similarity and \
                    (best is None or similarity > best.similarity):
                best = Copy(self._ids[row], round(similarity, 3))
        return best

    def _signature(self, items: set[str]) -> np.ndarray:
        if not items:
            return np.full(_HASHES, np.iinfo(np.uint64).max, dtype=np.uint64)
        values = np.fromiter((int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"),
                                                             digest_size=8).digest(), "little")
                              for s in items), dtype=np.uint64, count=len(items))
        return (values[:, None] * self._a + self._b).min(axis=0)   # wraps modulo 2**64
