"""Step 3: the candidate sentences of a question and their BM25-weighted scores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.answer.passages import BestPassages
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
           best: BestPassages) -> Candidates:
    """The answerable sentences of the ``best`` passages (the first stage's), in that order."""
    empty = np.zeros(0, dtype=np.float32)
    if best.size == 0:
        return Candidates(np.zeros(0, dtype=np.int64), empty, empty)
    top = best.passage_ids
    starts, ends = index.passage_first_sentence_[top], index.passage_first_sentence_[top + 1]
    sentence_ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
    passage_scores = np.repeat(best.scores, ends - starts)
    answerable = index.sentence_answerable_[sentence_ids]
    sentence_ids, passage_scores = sentence_ids[answerable], passage_scores[answerable]
    if sentence_ids.size == 0:
        return Candidates(sentence_ids, empty, empty)
    return Candidates(sentence_ids, index.sentence_scores(sentence_ids, term_ids, weights),
                      passage_scores)


def combine(candidates: Candidates, sentence_weight: float) -> np.ndarray:
    """The ranking score: ``w * sentence score + (1 - w) * passage score``."""
    return (sentence_weight * candidates.sentence_scores.astype(np.float64)
            + (1.0 - sentence_weight) * candidates.passage_scores.astype(np.float64))
