"""Step 3a, the first stage: the best passages of a question by their BM25-weighted score.

A ``PassageSearcher`` scores the passages of an index (the whole commit, or a shard: a run of
its segments opened with the whole commit's statistics, ``TfidfIndex.load(root, segments)``)
and keeps the best ones. Its results carry the commit's passage and article numbers and are
ordered by a total order (the score they were chosen by, then the passage number), so the
best passages of several shards merged (``merge_best_passages``, ``merge_best_articles``) are
exactly the best passages of the whole, ties included: a cluster of shards
(``retrieval.cluster``) answers as one index does.

``Searcher`` is what the answerer needs of the first stage; a searcher over the whole index
and the cluster's coordinator both provide it.
"""
from __future__ import annotations

import queue
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np

from retrieval.index import FirstStage, TfidfIndex


@dataclass(frozen=True, eq=False)
class BestPassages(FirstStage):
    """Passages best first (by ``chosen``, then by passage number), with their BM25-weighted
    ``scores`` and the score they were ``chosen`` by (``scores`` times a conversation's
    article preference)."""

    chosen: np.ndarray

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


class Searcher(Protocol):
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


COMPILED_FROM = 65_536   # passages from which the compiled first stage is used, if it can be


class PassageSearcher:
    """The first stage over ``index``, whose first article and passage are number
    ``first_article`` and ``first_passage`` of the commit (not 0 for a shard).

    With BM25 weighting and numba installed, an index of at least ``compiled_from`` passages
    is searched by compiled kernels (``retrieval.answer.kernels``: the postings added and the
    best passages kept in one pass) from its second question on: importing numba and loading
    the cached kernels cost about 0.7 s of CPU, which a process answering one question (a
    cold ``qabot ask``) never pays. A smaller index, and the first question, are searched by
    numpy and scipy. Both give the same passages, scores and order. ``compiled`` forces the
    choice from the first question (True raises ImportError without numba)."""

    def __init__(self, index: TfidfIndex, first_article: int = 0,
                 first_passage: int = 0, compiled: bool | None = None,
                 compiled_from: int = COMPILED_FROM) -> None:
        self._index = index
        self.first_article, self.first_passage = first_article, first_passage
        self.n_articles = len(index.articles_)
        self._article = index.passage_article_        # memory-mapped, not copied
        if compiled and index.weighting != "bm25":
            raise ValueError("the compiled first stage weighs postings by BM25 only")
        self._wanted = compiled if compiled is not None else (
            index.weighting == "bm25" and index.n_passages >= compiled_from)
        self._compiled: _CompiledFirstStage | None = None
        self._asked = bool(compiled)       # forced: compiled from the first question
        if compiled:
            self._compiled = _CompiledFirstStage(index, _kernels(required=True))

    @property
    def compiled(self) -> bool:
        """Whether the compiled kernels search this index (now)."""
        return self._compiled is not None

    def _compiled_stage(self) -> "_CompiledFirstStage | None":
        """The compiled first stage, loaded on the second question when it is wanted."""
        if self._compiled is None and self._wanted:
            if not self._asked:
                self._asked = True
                return None
            kernels = _kernels(required=False)
            if kernels is None:
                self._wanted = False
                return None
            self._compiled = _CompiledFirstStage(self._index, kernels)
        return self._compiled

    @property
    def n_passages(self) -> int:
        return self._index.n_passages

    def best_passages(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
                      allowed: np.ndarray | None = None,
                      preference: np.ndarray | None = None) -> BestPassages:
        """As ``Searcher.best_passages``; ``allowed`` and ``preference`` hold a value per
        article of this index."""
        compiled = self._compiled_stage()
        if compiled is not None and (preference is None or preference.dtype == np.float64):
            # (the kernels rank by float64 keys: another preference dtype ranks as numpy
            # multiplies it, below)
            ids, scores, chosen = compiled.best(term_ids, weights, n, allowed, preference)
            if preference is None:
                chosen = chosen.astype(np.float32)   # the float32 scores themselves
            return BestPassages(passage_ids=ids + self.first_passage, scores=scores,
                                chosen=chosen)
        scores = self._index.passage_scores(term_ids, weights)
        if allowed is not None:
            scores = np.where(allowed[self._article], scores, 0.0)
        chosen = scores if preference is None else scores * preference[self._article]
        matched = _contenders(chosen, n)
        top = _top(matched, chosen[matched], n)
        return BestPassages(passage_ids=top + self.first_passage, scores=scores[top],
                            chosen=chosen[top])

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> BestArticles:
        """As ``Searcher.best_articles``, among the articles of this index."""
        compiled = self._compiled_stage()
        if compiled is not None and compiled.articles_in_order and type(scale) is float:
            # (another scale type, a numpy float64, makes numpy's product float64: below)
            best, scores = compiled.best_articles(term_ids, weights, k, scale)
            return BestArticles(self._article[best].astype(np.int64) + self.first_article,
                                scores, best + self.first_passage)
        scores = self._index.passage_scores(term_ids, weights) * scale
        matched = np.flatnonzero(scores > 0)
        order = matched[np.argsort(-scores[matched], kind="stable")]
        articles = self._article[order]
        _, first = np.unique(articles, return_index=True)   # each article's best passage
        best = order[np.sort(first)[:k]]
        return BestArticles(self._article[best].astype(np.int64) + self.first_article,
                            scores[best],
                            best + self.first_passage)


class _CompiledFirstStage:
    """The kernels of ``retrieval.answer.kernels`` over an index's postings, with a pool of
    score buffers (a dense float32 score per passage and the largest of each block, left
    clean by each question), one per question being answered at once."""

    def __init__(self, index: TfidfIndex, kernels: Any) -> None:
        self._kernels = kernels
        self._postings = index.passage_postings()
        self._idf = index.idf_
        self._k1_plus_1 = np.float32(index.k1 + 1.0)
        self._n = index.n_passages
        live = index.live_passages
        self._live = live if live is not None else np.zeros(0, dtype=bool)
        self._article = index.passage_article_
        self._buffers: queue.SimpleQueue[tuple[np.ndarray, np.ndarray]] = queue.SimpleQueue()

    def _added(self, term_ids: np.ndarray, weights: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        """A clean pair of buffers with the question's postings added: scores and block
        maxima (put back in the pool by the caller once a selection has reset them)."""
        k = self._kernels
        try:
            scores, block_max = self._buffers.get_nowait()
        except queue.Empty:
            scores = np.zeros(self._n, dtype=np.float32)
            block_max = np.zeros(k.block_count(self._n), dtype=np.float32)
        term_ids = np.asarray(term_ids, dtype=np.int64)
        idfs = self._idf[term_ids]
        weights = np.asarray(weights, dtype=np.float32)
        for p in self._postings:
            k.add_postings(scores, block_max, p.indptr, p.ids, p.tf, p.norms, p.base,
                           p.to_local[term_ids], idfs, weights, self._k1_plus_1)
        return scores, block_max

    def best(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
             allowed: np.ndarray | None, preference: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ``n`` best passages (local numbers), their scores and keys (float64)."""
        scores, block_max = self._added(term_ids, weights)
        if preference is None:
            preference, most_preferred = np.zeros(0, dtype=np.float64), 1.0
        else:
            preference = np.asarray(preference, dtype=np.float64)
            most_preferred = float(preference.max()) if preference.size else 1.0
        ids, best_scores, keys = self._kernels.select_best(
            scores, block_max, max(int(n), 0), self._live, self._article,
            np.zeros(0, dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool),
            preference, most_preferred)
        self._buffers.put((scores, block_max))   # clean again: select_best reset them
        return ids, best_scores, keys

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The best passage (local number) of each of the ``k`` best articles, and its
        score times ``scale`` (in float32, as numpy multiplies by a Python float)."""
        scores, block_max = self._added(term_ids, weights)
        best, best_scores, _ = self._kernels.select_best_articles(
            scores, block_max, max(int(k), 0), self._live, self._article, np.float32(scale))
        self._buffers.put((scores, block_max))   # clean again
        return best, best_scores

    @cached_property
    def articles_in_order(self) -> bool:
        """Whether each article's passages are consecutive (passage articles never
        decrease), as ``select_best_articles`` needs."""
        return bool(np.all(self._article[1:] >= self._article[:-1]))


def _kernels(required: bool) -> Any:
    """``retrieval.answer.kernels`` (importing numba), or None without numba unless
    ``required``."""
    try:
        from retrieval.answer import kernels
    except ImportError:
        if required:
            raise
        return None
    return kernels


SAMPLE = 16_384   # passages whose n-th best score bounds the n-th best of all from below


def _contenders(keys: np.ndarray, n: int) -> np.ndarray:
    """The passages (ascending) that may be among the ``n`` with the largest positive
    ``keys``: those at least the ``n``-th largest key of an evenly spaced sample of
    ``SAMPLE`` passages, a lower bound of the ``n``-th largest of all (ties included). On
    a large corpus the passages holding a question term are hundreds of thousands, and
    selecting among them all was the costliest step of a question; a few thousand pass."""
    if keys.size <= 4 * SAMPLE:       # small: every passage holding a term, at once
        return np.flatnonzero(keys > 0)
    sample = keys[::keys.size // SAMPLE]
    positive = sample[sample > 0]
    if positive.size < n:
        return np.flatnonzero(keys > 0)
    threshold = np.partition(positive, positive.size - n)[positive.size - n]
    return np.flatnonzero(keys >= threshold)


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
    return BestPassages(passage_ids=ids[keep], scores=scores[keep], chosen=chosen[keep])


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
