"""Step 3: the candidate sentences of a question and their BM25-weighted scores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index import FirstStage, TfidfIndex
from retrieval.index.facade import SentenceRows, entry_positions


@dataclass(frozen=True, eq=False)
class Candidates:
    """Answerable sentences of the best passages, with the share of the question each
    matches (``sentence_scores``) and its passage matches (``passage_scores``), and their
    weighted term rows (``rows``: computed once, for the scores and the folding)."""

    sentence_ids: np.ndarray
    sentence_scores: np.ndarray
    passage_scores: np.ndarray
    rows: SentenceRows

    @property
    def size(self) -> int:
        return int(self.sentence_ids.size)


def candidates_of(index: TfidfIndex, top: FirstStage, term_ids: np.ndarray,
                  weights: np.ndarray) -> Candidates:
    """The answerable sentences of the passages ``top`` (wherever they were found), with
    their own scores and their passages'."""
    empty = np.zeros(0, dtype=np.float32)
    none = SentenceRows(np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64), empty)
    if top.passage_ids.size == 0:
        return Candidates(np.zeros(0, dtype=np.int64), empty, empty, none)
    # The passages' sentences are consecutive: passage_first_sentence_ is their indptr.
    sentence_ids, sizes = entry_positions(index.passage_first_sentence_, top.passage_ids)
    passage_scores = np.repeat(top.scores, sizes)
    answerable = np.asarray(index.sentence_answerable_[sentence_ids], dtype=bool)
    sentence_ids, passage_scores = sentence_ids[answerable], passage_scores[answerable]
    if sentence_ids.size == 0:
        return Candidates(sentence_ids, empty, empty, none)
    rows = index.sentence_weight_rows(sentence_ids)
    return Candidates(sentence_ids, index.sentence_scores(sentence_ids, term_ids, weights, rows),
                      passage_scores, rows)


def combine(candidates: Candidates, sentence_weight: float) -> np.ndarray:
    """The ranking score: ``w * sentence score + (1 - w) * passage score``."""
    return (sentence_weight * candidates.sentence_scores.astype(np.float64)
            + (1.0 - sentence_weight) * candidates.passage_scores.astype(np.float64))
