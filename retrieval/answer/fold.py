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
                    similarity: float, rows: SentenceRows | None = None,
                    positions: np.ndarray | None = None) -> list[Folded]:
    """The best of each group of near-identical sentences among ``sentence_ids`` (best
    first), at most ``k`` of them, each naming the other articles that report it. Sentences
    are near-identical when the cosine of their term weights is at least ``similarity``.
    ``rows``: the sentences' ``index.sentence_weight_rows``, when the caller has them, in
    their order or, with ``positions``, each sentence's at its position in ``rows``."""
    # Cosines are computed among the best ``window`` candidates at once (one sparse
    # product); the window doubles when its candidates run out before k distinct ones,
    # up to MAX_FOLD_WINDOW (fewer than k answers beyond it).
    sentence_ids = sentence_ids[:MAX_FOLD_WINDOW]
    if rows is None:
        rows = index.sentence_weight_rows(sentence_ids)
    if positions is None:
        positions = np.arange(sentence_ids.size)
    window = 2 * k + 10
    computed = 0
    while True:
        size = min(window, sentence_ids.size)
        if size > computed:   # the cosines, once for each window size
            similar = index.sentence_cosines(sentence_ids[:size],
                                             rows.take(positions[:size])) >= similarity
            computed = size
        kept, owner, stop = _keep(similar, k)
        if stop < size or size == sentence_ids.size:
            break
        window *= 2
    # Each duplicate (a row before ``stop`` that a kept row claimed), in row order, names
    # its article beside the kept sentence's when it is another one.
    articles = index.sentence_article_[sentence_ids[:stop]].tolist()
    also: list[list[int]] = [[] for _ in kept]
    for row, j in enumerate(owner[:stop]):
        if j >= 0:
            article = articles[row]
            if article != articles[kept[j]] and article not in also[j]:
                also[j].append(article)
    return [Folded(row, tuple(others)) for row, others in zip(kept, also)]


def _keep(similar: np.ndarray, k: int) -> tuple[list[int], list[int], int]:
    """Rows kept greedily in order (a row is kept unless near-identical to a kept one), at
    most ``k``; for each row, the position in the kept list of the first kept row it is
    near-identical to (-1: none, or kept itself); and the row where keeping stopped (the
    would-be ``k + 1``-th kept row, or the number of rows)."""
    size = similar.shape[0]
    # Rows as bit sets (Python integers, bit i for row i): a few kept rows are read, and
    # the next unclaimed row is found without a loop over the rows.
    packed = np.packbits(similar, axis=1, bitorder="little")
    claims: list[int] = []
    taken = 0                      # rows kept or claimed so far
    kept: list[int] = []
    row, stop = 0, size
    while row < size:
        if len(kept) == k:
            stop = row
            break
        later = ~((2 << row) - 1)  # the rows after this one
        claim = int.from_bytes(packed[row].tobytes(), "little") & ~taken & later
        claims.append(claim)
        kept.append(row)
        taken |= claim | (1 << row)
        free = ~taken & later      # its lowest bit: the next row neither kept nor claimed
        row = min((free & -free).bit_length() - 1, size)
    owner = [-1] * size
    for j, claim in enumerate(claims):
        while claim:
            low = claim & -claim
            owner[low.bit_length() - 1] = j
            claim ^= low
    return kept, owner, stop
