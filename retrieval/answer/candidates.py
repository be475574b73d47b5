"""Step 3: the candidate sentences of a question and their BM25-weighted scores."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index import FirstStage, TfidfIndex
from retrieval.index.facade import SentenceRows, entry_positions


@dataclass(frozen=True, eq=False)
class PassageSentences:
    """Every sentence of some passages (answerable or not), passage after passage: passage
    ``i``'s are ``sentence_ids[indptr[i]:indptr[i + 1]]``, with their weighted term ``rows``
    (``index.sentence_weight_rows``) in the same order."""

    sentence_ids: np.ndarray
    indptr: np.ndarray
    rows: SentenceRows


def passage_sentences(index: TfidfIndex, passage_ids: np.ndarray) -> PassageSentences:
    """The sentences of ``passage_ids`` (in that order) and their weighted term rows, read
    once for the candidates' scores, their folding and the features of their passages."""
    # The passages' sentences are consecutive: passage_first_sentence_ is their indptr.
    sentence_ids, sizes = entry_positions(index.passage_first_sentence_, passage_ids)
    indptr = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=indptr[1:])
    return PassageSentences(sentence_ids, indptr, index.sentence_weight_rows(sentence_ids))


@dataclass(frozen=True, eq=False)
class Candidates:
    """Answerable sentences of the best passages, with the share of the question each
    matches (``sentence_scores``) and its passage matches (``passage_scores``); every
    sentence of those passages with its weighted term row (``sentences``: computed once, for
    the scores, the folding and the features), each candidate's row there (``positions``)
    and its passage's place among the best passages (``passages``)."""

    sentence_ids: np.ndarray
    sentence_scores: np.ndarray
    passage_scores: np.ndarray
    sentences: PassageSentences
    positions: np.ndarray
    passages: np.ndarray

    @property
    def size(self) -> int:
        return int(self.sentence_ids.size)

    @property
    def rows(self) -> SentenceRows:
        """The weighted term rows of every sentence of the passages (``positions``: the
        candidates')."""
        return self.sentences.rows


def candidates_of(index: TfidfIndex, top: FirstStage, term_ids: np.ndarray,
                  weights: np.ndarray) -> Candidates:
    """The answerable sentences of the passages ``top`` (wherever they were found), with
    their own scores and their passages'."""
    sentences = passage_sentences(index, np.asarray(top.passage_ids, dtype=np.int64))
    every = sentences.sentence_ids
    positions = np.flatnonzero(np.asarray(index.sentence_answerable_[every], dtype=bool))
    if positions.size == 0:
        empty = np.zeros(0, dtype=np.float32)
        return Candidates(every[positions], empty, empty, sentences, positions, positions)
    passages = np.repeat(np.arange(top.passage_ids.size), np.diff(sentences.indptr))[positions]
    return Candidates(every[positions],
                      index.sentence_scores(every, term_ids, weights, sentences.rows)[positions],
                      np.asarray(top.scores)[passages], sentences, positions, passages)


def combine(candidates: Candidates, sentence_weight: float) -> np.ndarray:
    """The ranking score: ``w * sentence score + (1 - w) * passage score``."""
    return (sentence_weight * candidates.sentence_scores.astype(np.float64)
            + (1.0 - sentence_weight) * candidates.passage_scores.astype(np.float64))
