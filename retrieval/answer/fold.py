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
        kept, owner, stop = _keep(similar, k)
        if stop < size or size == sentence_ids.size:
            break
        window *= 2
    # Each duplicate (a row before ``stop`` that a kept row claimed), in row order, names
    # its article beside the kept sentence's when it is another one.
    articles = index.sentence_article_[sentence_ids[:stop]].tolist()
    also: list[list[int]] = [[] for _ in kept]
    for row in np.flatnonzero(owner[:stop] >= 0).tolist():
        j = int(owner[row])
        article = articles[row]
        if article != articles[kept[j]] and article not in also[j]:
            also[j].append(article)
    return [Folded(row, tuple(others)) for row, others in zip(kept, also)]


def _keep(similar: np.ndarray, k: int) -> tuple[list[int], np.ndarray, int]:
    """Rows kept greedily in order (a row is kept unless near-identical to a kept one), at
    most ``k``; for each row, the position in the kept list of the first kept row it is
    near-identical to (-1: none, or kept itself); and the row where keeping stopped (the
    would-be ``k + 1``-th kept row, or the number of rows)."""
    size = similar.shape[0]
    owner = np.full(size, -1, dtype=np.int64)
    kept: list[int] = []
    row = 0
    while row < size:
        if len(kept) == k:
            return kept, owner, row
        claimed = similar[row] & (owner < 0)   # the later rows near-identical to this one
        claimed[:row + 1] = False
        owner[claimed] = len(kept)
        kept.append(row)
        free = np.flatnonzero(owner[row + 1:] < 0)
        row = row + 1 + int(free[0]) if free.size else size
    return kept, owner, size
