"""Step 4: near-identical sentences (the same fact reported by several articles) shown once."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retrieval.index import TfidfIndex
from retrieval.index.facade import SentenceRows


# At most this many candidates, best first, are compared for near-duplicates: the work of
# one question stays bounded however many copies of a sentence the corpus holds.
MAX_FOLD_WINDOW = 256


@dataclass(frozen=True)
class Folded:
    """A kept candidate: its ``row`` in the ranked order and the other articles (numbers)
    that report the same sentence."""

    row: int
    others: tuple[int, ...]


def fold_duplicates(index: TfidfIndex, sentence_ids: np.ndarray, k: int,
                    similarity: float, rows: SentenceRows | None = None) -> list[Folded]:
    """The best of each group of near-identical sentences among ``sentence_ids`` (best
    first), at most ``k`` of them, each naming the other articles that report it. Sentences
    are near-identical when the cosine of their term weights is at least ``similarity``.
    ``rows``: the sentences' ``index.sentence_weight_rows``, when the caller has them."""
    # Cosines are computed among the best ``window`` candidates at once (one sparse
    # product); the window doubles when its candidates run out before k distinct ones,
    # up to MAX_FOLD_WINDOW (fewer than k answers beyond it).
    sentence_ids = sentence_ids[:MAX_FOLD_WINDOW]
    if rows is None:
        rows = index.sentence_weight_rows(sentence_ids)
    window = 2 * k + 10
    computed = 0
    while True:
        size = min(window, sentence_ids.size)
        if size > computed:   # the cosines, once for each window size
            similar = index.sentence_cosines(sentence_ids[:size],
                                             rows.take(np.arange(size))) >= similarity
            computed = size
        kept: list[int] = []          # rows of the kept sentences, best first
        also: list[list[int]] = []    # for each kept row, the other articles reporting it
        complete = False
        for row in range(size):
            duplicate_of = next((j for j, kept_row in enumerate(kept)
                                 if similar[kept_row, row]), None)
            if duplicate_of is None:
                if len(kept) == k:
                    complete = True
                    break
                kept.append(row)
                also.append([])
                continue
            article = int(index.sentence_article_[sentence_ids[row]])
            first = int(index.sentence_article_[sentence_ids[kept[duplicate_of]]])
            if article != first and article not in also[duplicate_of]:
                also[duplicate_of].append(article)
        if complete or size == sentence_ids.size:
            break
        window *= 2
    return [Folded(row, tuple(others)) for row, others in zip(kept, also)]
