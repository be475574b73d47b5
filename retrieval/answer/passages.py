"""Step 3a, the first stage: the best passages of a question by their BM25-weighted score.

A ``PassageSearcher`` scores the passages of a range of articles (the whole index, or one
shard's part of it) and keeps the best ones. Its results carry global passage and article
numbers and are ordered by a total order (score, then passage number), so the best passages of
several ranges merged (``merge_best_passages``, ``merge_best_articles``) are exactly the best
passages of the whole: a cluster of shards (``retrieval.cluster``) answers as one index does.

``FirstStage`` is what the answerer needs of it; a searcher over the whole index and the
cluster's coordinator both provide it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import scipy.sparse as sp

from retrieval.index import TfidfIndex


@dataclass(frozen=True, eq=False)
class BestPassages:
    """Passages best first (by ``chosen``, then by passage number): ``chosen`` is the score
    they were chosen by (the BM25-weighted score times a conversation's article preference),
    ``scores`` their BM25-weighted score."""

    passage_ids: np.ndarray
    chosen: np.ndarray
    scores: np.ndarray

    @property
    def size(self) -> int:
        return int(self.passage_ids.size)


@dataclass(frozen=True, eq=False)
class BestArticles:
    """Articles best first by the score of their best passage (``scores``), then by that
    passage's number (``passage_ids``)."""

    article_ids: np.ndarray
    scores: np.ndarray
    passage_ids: np.ndarray


class FirstStage(Protocol):
    """The first stage of a question, over the whole index."""

    def best_passages(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
                      allowed: np.ndarray | None = None,
                      preference: np.ndarray | None = None) -> BestPassages:
        """The ``n`` best passages holding a term of the question vector ``term_ids``/
        ``weights``, among those of the ``allowed`` articles (a boolean per article) when
        given; a ``preference`` (a factor per article) weighs the choice, not the scores."""
        ...

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> BestArticles:
        """The ``k`` articles whose best passage scores highest, with that score times
        ``scale``."""
        ...


class PassageSearcher:
    """The first stage over the passages of articles ``first_article`` to ``last_article``
    (excluded; None: to the end) of ``index``. A searcher over part of the index keeps its
    own copy of that part of the postings only."""

    def __init__(self, index: TfidfIndex, first_article: int = 0,
                 last_article: int | None = None) -> None:
        n_articles = len(index.article_ids_)
        last = n_articles if last_article is None else last_article
        if not 0 <= first_article <= last <= n_articles:
            raise ValueError(f"articles {first_article} to {last} are not within the "
                             f"{n_articles} of the index")
        lo, hi = np.searchsorted(index.passage_article_, [first_article, last])
        self.first_article, self.last_article = first_article, last
        self.first_passage = int(lo)
        whole = lo == 0 and hi == index.n_passages
        self._matrix: sp.csc_matrix = (index.passage_matrix_ if whole
                                       else index.passage_matrix_[lo:hi].tocsc())
        self._article = index.passage_article_[lo:hi] - np.int32(first_article)

    @property
    def n_passages(self) -> int:
        return int(self._matrix.shape[0])

    def scores(self, term_ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The BM25-weighted score of each passage of the range (as
        ``TfidfIndex.passage_scores``: the same sums in the same order, so the same floats)."""
        if term_ids.size == 0:
            return np.zeros(self.n_passages, dtype=np.float32)
        return np.asarray(self._matrix[:, term_ids] @ weights).ravel()

    def best_passages(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
                      allowed: np.ndarray | None = None,
                      preference: np.ndarray | None = None) -> BestPassages:
        """As ``FirstStage.best_passages``; ``allowed`` and ``preference`` hold a value per
        article of the range."""
        scores = self.scores(term_ids, weights)
        if allowed is not None:
            scores = np.where(allowed[self._article], scores, 0.0)
        chosen = scores if preference is None else scores * preference[self._article]
        # Select among the passages holding a question term only: on a large corpus they are
        # a fraction of all, and the partial sort is the costliest step of a question.
        matched = np.flatnonzero(chosen > 0)
        top = _top(matched, chosen[matched], n)
        return BestPassages(top + self.first_passage, chosen[top], scores[top])

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> BestArticles:
        """As ``FirstStage.best_articles``, among the articles of the range."""
        scores = self.scores(term_ids, weights) * scale
        matched = np.flatnonzero(scores > 0)
        order = matched[np.argsort(-scores[matched], kind="stable")]
        articles = self._article[order]
        _, first = np.unique(articles, return_index=True)   # each article's best passage
        best = order[np.sort(first)[:k]]
        return BestArticles(self._article[best].astype(np.int64) + self.first_article,
                            scores[best], best + self.first_passage)


def _top(ids: np.ndarray, keys: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` of ``ids`` (ascending) with the largest ``keys``, ordered by key, then id:
    a total order, so that the result does not depend on how the ids were split."""
    n = min(n, ids.size)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n < ids.size:
        threshold = keys[np.argpartition(-keys, n - 1)[n - 1]]
        above = keys > threshold
        ties = np.flatnonzero(keys == threshold)[:n - int(above.sum())]  # the lowest ids
        keep = np.flatnonzero(above)
        keep = np.concatenate([keep, ties])
        ids, keys = ids[keep], keys[keep]
    order = np.lexsort((ids, -keys))
    return ids[order].astype(np.int64)


def merge_best_passages(parts: list[BestPassages], n: int) -> BestPassages:
    """The ``n`` best passages of several ranges' best passages."""
    ids = np.concatenate([p.passage_ids for p in parts]) if parts else np.zeros(0, np.int64)
    chosen = np.concatenate([p.chosen for p in parts]) if parts else np.zeros(0, np.float32)
    scores = np.concatenate([p.scores for p in parts]) if parts else np.zeros(0, np.float32)
    order = np.argsort(ids, kind="stable")           # _top breaks ties by the lowest ids
    ids, chosen, scores = ids[order], chosen[order], scores[order]
    keep = np.searchsorted(ids, _top(ids, chosen, n))
    return BestPassages(ids[keep], chosen[keep], scores[keep])


def merge_best_articles(parts: list[BestArticles], k: int) -> BestArticles:
    """The ``k`` best articles of several ranges' best articles (the ranges hold different
    articles)."""
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return BestArticles(empty, np.zeros(0, dtype=np.float32), empty)
    articles = np.concatenate([p.article_ids for p in parts])
    scores = np.concatenate([p.scores for p in parts])
    passages = np.concatenate([p.passage_ids for p in parts])
    order = np.lexsort((passages, -scores))[:k]
    return BestArticles(articles[order], scores[order], passages[order])
