"""Step 3: the candidate sentences of a question and their BM25-weighted scores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index import TfidfIndex


@dataclass(frozen=True, eq=False)
class Candidates:
    """Answerable sentences of the best passages, with the share of the question each
    matches (``sentence_scores``) and its passage matches (``passage_scores``)."""

    sentence_ids: np.ndarray
    sentence_scores: np.ndarray
    passage_scores: np.ndarray

    @property
    def size(self) -> int:
        return int(self.sentence_ids.size)


def gather(index: TfidfIndex, term_ids: np.ndarray, weights: np.ndarray,
           allowed: np.ndarray | None, n_passages: int,
           preference: np.ndarray | None = None) -> Candidates:
    """The answerable sentences of the ``n_passages`` best-scoring passages (among the
    ``allowed`` ones, a boolean per passage, when given). A ``preference`` (a factor per
    passage: a conversation's preferred articles) weighs the choice, not the scores."""
    p_scores = index.passage_scores(term_ids, weights)
    if allowed is not None:
        p_scores = np.where(allowed, p_scores, 0.0)
    chosen = p_scores if preference is None else p_scores * preference
    # Select among the passages holding a question term only: on a large corpus they are
    # a fraction of all, and the partial sort is the costliest step of a question.
    matched = np.flatnonzero(chosen > 0)
    n = min(n_passages, matched.size)
    empty = np.zeros(0, dtype=np.float32)
    if n == 0:
        return Candidates(np.zeros(0, dtype=np.int64), empty, empty)
    top = (matched[np.argpartition(-chosen[matched], n - 1)[:n]] if n < matched.size
           else matched)
    starts, ends = index.passage_first_sentence_[top], index.passage_first_sentence_[top + 1]
    sentence_ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    sentence_ids = sentence_ids[index.sentence_answerable_[sentence_ids]]
    if sentence_ids.size == 0:
        return Candidates(sentence_ids, empty, empty)
    return Candidates(sentence_ids, index.sentence_scores(sentence_ids, term_ids, weights),
                      p_scores[index.sentence_passage_[sentence_ids]])


def combine(candidates: Candidates, sentence_weight: float) -> np.ndarray:
    """The ranking score: ``w * sentence score + (1 - w) * passage score``."""
    return (sentence_weight * candidates.sentence_scores.astype(np.float64)
            + (1.0 - sentence_weight) * candidates.passage_scores.astype(np.float64))
