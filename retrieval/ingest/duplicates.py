"""Telling an article we already have from a new one.

* The same URL (scheme and host in any case, without the ``#fragment``) or the same text
  (the same words, whatever the spacing, case or Unicode form) is a duplicate: not added.
* A near-identical copy (a syndicated story republished by another outlet, with its own
  headline and furniture) is added, and recognised as a copy of the first: the share of
  5-word runs the two texts have in common (their Jaccard similarity) is at least
  ``ingest.syndicated_similarity``.

The articles compared with a new one are found in time independent of the corpus's size:
in the corpus's index, the passages that best match the new text's rarest terms (a copy or
the same text matches them all) give the candidate articles; the articles added in the same
run are kept in memory, with MinHash signatures (64 hashes each) to find the candidates
among them in one vectorised pass. The exact similarity is then computed for the candidates.
An article's own URL (the page's canonical link, or the link it was added from) is also
looked up in the index directly, so a page whose text has since changed beyond recognition is
still known by it; the other URLs an origin records (a link that redirected there) are
compared only among the candidates.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from retrieval.corpus import Article, normal_url
from retrieval.text import normal_words

SHINGLE_WORDS = 5
_HASHES = 64
_SLACK = 0.15      # MinHash estimates within this of the threshold are checked exactly


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20261126)
    a = rng.integers(1, 2**63, size=_HASHES, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=_HASHES, dtype=np.uint64)
    return a, b


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


@dataclass(frozen=True)
class Known:
    """An article we have, as duplicates are judged: its id, text and the URLs it is known by."""

    article_id: str
    text: str
    urls: tuple[str, ...]


Candidates = Callable[[str], Iterable[Known]]   # the articles of the corpus nearest a text
UrlLookup = Callable[[str], str | None]          # the article of the corpus at a URL, if any


class DuplicateFinder:
    """Finds what a new article duplicates or copies among the articles ``candidates`` gives
    for its text (the corpus's, from its index) and those ``add``-ed since."""

    def __init__(self, syndicated_similarity: float, candidates: Candidates | None = None,
                 by_url: UrlLookup | None = None) -> None:
        self.syndicated_similarity = syndicated_similarity
        self._candidates = candidates
        self._by_url = by_url
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

    def judge(self, text: str, urls: Iterable[str | None]) -> Duplicate | Copy | None:
        """What ``text`` (found at ``urls``) is: a duplicate of an article we have (the same
        URL or the same text), a near-identical copy of one (the most similar), or None."""
        wanted = {normal_url(u) for u in urls if u}
        for url in wanted:
            known_id = self._urls.get(url) or (self._by_url(url) if self._by_url else None)
            if known_id is not None:
                return Duplicate(known_id, "same URL")
        key = text_key(text)
        if key in self._texts:
            return Duplicate(self._texts[key], "same text")
        own = shingles(text)
        nearest = list(self._candidates(text)) if self._candidates is not None else []
        for known in nearest:
            if wanted & {normal_url(u) for u in known.urls}:
                return Duplicate(known.article_id, "same URL")
            if text_key(known.text) == key:
                return Duplicate(known.article_id, "same text")
        best: Copy | None = None
        for article_id, body in [(k.article_id, k.text) for k in nearest] + self._near(own):
            similarity = jaccard(own, shingles(body))
            if similarity >= self.syndicated_similarity and \
                    (best is None or similarity > best.similarity):
                best = Copy(article_id, round(similarity, 3))
        return best

    def _near(self, own: set[str]) -> list[tuple[str, str]]:
        """The articles added since, whose MinHash estimate is near the threshold."""
        if not self._ids:
            return []
        if self._matrix is None:
            self._matrix = np.vstack(self._signatures)
        estimates = (self._matrix == self._signature(own)).mean(axis=1)
        return [(self._ids[row], self._bodies[row])
                for row in np.flatnonzero(estimates >= self.syndicated_similarity - _SLACK)]

    def _signature(self, items: set[str]) -> np.ndarray:
        if not items:
            return np.full(_HASHES, np.iinfo(np.uint64).max, dtype=np.uint64)
        values = np.fromiter((int.from_bytes(hashlib.blake2b(s.encode("utf-8", "surrogatepass"),
                                                             digest_size=8).digest(), "little")
                              for s in items), dtype=np.uint64, count=len(items))
        return (values[:, None] * self._a + self._b).min(axis=0)   # wraps modulo 2**64
