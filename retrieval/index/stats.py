"""Global term statistics, combined across segments (as Lucene combines its segments').

A segment stores term counts only; the weights a question sees come from these statistics:
the smoothed idf of scikit-learn's ``TfidfTransformer`` over the live passages of every
segment, ``ln((1 + passages) / (1 + df)) + 1``, and the mean passage and sentence lengths that
BM25 normalises by. Every statistic is an integer sum, so an index grown by segments (with
deleted articles subtracted) has exactly the statistics, hence exactly the weights and
scores, of one rebuilt from the same articles."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.index.segment import Segment


@dataclass(frozen=True, eq=False)
class GlobalStats:
    """The statistics of a set of live passages: the terms they hold (sorted), each term's
    document frequency (passages holding it), and the counts and total lengths of passages
    and sentences."""

    vocabulary: list[str]
    df: np.ndarray
    passages: int
    passage_length: int
    sentences: int
    sentence_length: int

    def idf(self) -> np.ndarray:
        """scikit-learn's smoothed idf (float32), computed as ``TfidfTransformer`` does."""
        # In float32 throughout, as scikit-learn computes it for float32 counts.
        df = self.df.astype(np.float32) + np.float32(1.0)
        return (np.log((self.passages + 1) / df) + 1.0).astype(np.float32)

    @property
    def mean_passage_length(self) -> float:
        return _mean(self.passage_length, self.passages)

    @property
    def mean_sentence_length(self) -> float:
        return _mean(self.sentence_length, self.sentences)

    def numbers(self) -> dict[str, int]:
        """The scalar statistics, for a commit's manifest."""
        return {"passages": self.passages, "passage_length": self.passage_length,
                "sentences": self.sentences, "sentence_length": self.sentence_length}


def _mean(total: int, count: int) -> float:
    # As numpy's float32 mean of the lengths (exact below 2**24 in total); 1 for no text.
    if count == 0 or total == 0:
        return 1.0
    return float(np.float32(total) / np.float32(count))


def combine(segments: Sequence[Segment], deleted: Sequence[np.ndarray | None]
            ) -> tuple[GlobalStats, list[np.ndarray]]:
    """The statistics of ``segments`` without their ``deleted`` articles (a boolean per
    article of each segment, or None), and for each segment the global number of each of its
    terms (-1 for a term no live passage holds any more)."""
    dfs, passages, p_length, sentences, s_length = [], 0, 0, 0, 0
    for segment, gone in zip(segments, deleted):
        a = segment.arrays
        df = np.diff(a.passage_indptr).astype(np.int64)
        if gone is not None and gone.any():
            dead_passages = gone[a.passage_article]
            dead_sentences = gone[a.sentence_article]
            terms = np.repeat(np.arange(len(a.vocabulary)), np.diff(a.passage_indptr))
            df -= np.bincount(terms[dead_passages[a.passage_ids]], minlength=df.size)
            passages += int((~dead_passages).sum())
            p_length += int(a.passage_length[~dead_passages].sum(dtype=np.int64))
            sentences += int((~dead_sentences).sum())
            s_length += int(np.diff(np.asarray(a.sentence_indptr, dtype=np.int64))[
                ~dead_sentences].sum())
        else:
            passages += a.n_passages
            p_length += int(np.sum(a.passage_length, dtype=np.int64))
            sentences += a.n_sentences
            s_length += int(a.sentence_indptr[-1])     # a term once per occurrence
        dfs.append(df)
    if len(segments) == 1:
        union = list(segments[0].vocabulary)
        locals_ = [np.arange(len(union), dtype=np.int64)]
    else:
        union = sorted(set().union(*(s.vocabulary for s in segments)))
        position = {t: i for i, t in enumerate(union)}
        locals_ = [np.fromiter((position[t] for t in s.vocabulary), dtype=np.int64,
                               count=len(s.vocabulary)) for s in segments]
    df_union = np.zeros(len(union), dtype=np.int64)
    for where, df in zip(locals_, dfs):
        np.add.at(df_union, where, df)
    alive = df_union > 0
    renumber = np.cumsum(alive) - 1
    vocabulary = ([union[i] for i in np.flatnonzero(alive)] if not alive.all() else union)
    maps = [np.where(alive[where], renumber[where], -1).astype(np.int32) for where in locals_]
    stats = GlobalStats(vocabulary, df_union[alive], passages, p_length, sentences, s_length)
    return stats, maps
