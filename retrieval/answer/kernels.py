"""Compiled kernels of the first stage (numba), for large indexes.

``add_postings`` adds the BM25-weighted postings of a question's terms into a dense score per
passage and keeps the largest score of each block of ``BLOCK`` passages; ``select_best`` then
reads only the blocks whose largest score can still reach the ``n`` best (block-max pruning,
exact), keeps the ``n`` best in a bounded heap and sets the touched blocks back to 0, so the
buffers serve the next question without being cleared whole. Together they are
``PassageSearcher``'s scipy path (``TfidfIndex.passage_scores``, ``_contenders``, ``_top``)
with the same float32 arithmetic in the same order, so the scores and the chosen passages are
identical, ties included (tests/test_first_stage_compiled.py).

Importing this module imports numba (about 0.4 s of CPU); the compiled code is cached on disk
(``cache=True``: beside this file in ``__pycache__``, or under the user's cache directory when
that is not writable, or ``NUMBA_CACHE_DIR``), so only the first process after an install
compiles it (about 2 s of CPU).
"""
from __future__ import annotations

import numba
import numpy as np

SHIFT = 8
BLOCK = 1 << SHIFT     # passages a block: its largest score bounds its passages' scores


def block_count(n_passages: int) -> int:
    """The number of blocks of ``n_passages`` passages."""
    return (n_passages + BLOCK - 1) >> SHIFT


@numba.njit(cache=True, nogil=True)
def add_postings(scores, block_max, indptr, ids, tf, norms, base, local_terms, idfs, weights,
                 k1_plus_1):  # pragma: no cover - compiled
    """Add ``weights[t] * idf * tf * (k1 + 1) / (tf + norm)`` of each posting of local term
    ``local_terms[t]`` (skipped when -1) to ``scores[base + passage]``, in term order, as
    ``TfidfIndex._posting_weights`` weighs it (float32), and raise ``block_max`` of the
    passage's block to its new score. A posting outside the arrays (a damaged segment the
    sampled checksums missed) is skipped: never a write out of bounds."""
    n_local = norms.size
    for t in range(local_terms.size):
        term = local_terms[t]
        if term < 0 or term + 1 >= indptr.size:
            continue
        idf = idfs[t]
        weight = weights[t]
        for j in range(max(indptr[term], 0), min(indptr[term + 1], ids.size)):
            p = ids[j]
            if p < 0 or p >= n_local or base + p >= scores.size:
                continue
            count = np.float32(tf[j])
            q = base + p
            score = scores[q] + count * k1_plus_1 / (count + norms[p]) * idf * weight
            scores[q] = score
            b = q >> SHIFT
            block_max[b] = max(block_max[b], score)


@numba.njit(inline="always")
def _worse(key_a, id_a, key_b, id_b):  # pragma: no cover - compiled
    """Whether (key_a, id_a) ranks below (key_b, id_b): a lower key, or the same and a
    higher id."""
    return key_a < key_b or (key_a == key_b and id_a > id_b)


@numba.njit(inline="always")
def _new_heap(n):  # pragma: no cover - compiled
    """Room for a heap of at most ``n`` entries: keys (float64), passages, scores (float32)."""
    size = max(n, 1)
    return (np.empty(size, dtype=np.float64), np.empty(size, dtype=np.int64),
            np.empty(size, dtype=np.float32))


@numba.njit(inline="always")
def _push(heap_key, heap_id, heap_score, size, n, key, p, score):  # pragma: no cover
    """Offer (key, passage ``p``, ``score``) to a heap of at most ``n`` (worst at the root)
    holding ``size``; returns the new size."""
    if size < n:                      # sift up
        j = size
        size += 1
        while j > 0:
            parent = (j - 1) // 2
            if not _worse(key, p, heap_key[parent], heap_id[parent]):
                break
            heap_key[j], heap_id[j], heap_score[j] = \
                heap_key[parent], heap_id[parent], heap_score[parent]
            j = parent
    elif _worse(heap_key[0], heap_id[0], key, p):   # replace the worst, sift down
        j = 0
        while True:
            child = 2 * j + 1
            if child >= size:
                break
            if child + 1 < size and _worse(heap_key[child + 1], heap_id[child + 1],
                                           heap_key[child], heap_id[child]):
                child += 1
            if not _worse(heap_key[child], heap_id[child], key, p):
                break
            heap_key[j], heap_id[j], heap_score[j] = \
                heap_key[child], heap_id[child], heap_score[child]
            j = child
    else:
        return size
    heap_key[j], heap_id[j], heap_score[j] = key, p, score
    return size


@numba.njit(inline="always")
def _best_first(heap_key, heap_id, heap_score, size):  # pragma: no cover - compiled
    """The heap's entries best first (an insertion sort of the few kept)."""
    for i in range(1, size):
        k, q, s = heap_key[i], heap_id[i], heap_score[i]
        j = i - 1
        while j >= 0 and _worse(heap_key[j], heap_id[j], k, q):
            heap_key[j + 1], heap_id[j + 1], heap_score[j + 1] = \
                heap_key[j], heap_id[j], heap_score[j]
            j -= 1
        heap_key[j + 1], heap_id[j + 1], heap_score[j + 1] = k, q, s
    return heap_id[:size], heap_score[:size], heap_key[:size]


@numba.njit(cache=True, nogil=True)
def select_best(scores, block_max, n, live, article, allowed, preference, most_preferred
                ):  # pragma: no cover - compiled
    """The ``n`` passages with the largest positive keys, best first (by key, then by the
    lowest passage number), with their scores and keys; every score and block maximum is
    set back to 0. A passage is left out when ``live`` (a boolean per passage, empty for
    all) or ``allowed`` (a boolean per article, empty for all) says so; its key is its score
    times ``preference`` of its article (float64; empty: the score itself), at most its
    block's maximum times ``most_preferred`` (the largest preference, 1.0 without), so a
    block whose bound is below the n-th best key so far is not read."""
    heap_key, heap_id, heap_score = _new_heap(n)
    size = 0
    n_passages = scores.size
    for b in range(block_max.size):
        top = block_max[b]
        if top == 0:
            continue
        block_max[b] = 0
        lo = b << SHIFT
        hi = min(lo + (1 << SHIFT), n_passages)
        if n == 0 or (size == n and np.float64(top) * most_preferred < heap_key[0]):
            scores[lo:hi] = 0
            continue
        for p in range(lo, hi):
            score = scores[p]
            if score == 0:
                continue
            scores[p] = 0
            if live.size and not live[p]:
                continue
            if allowed.size and not allowed[article[p]]:
                continue
            key = np.float64(score)
            if preference.size:
                key = key * preference[article[p]]
            if key > 0:
                size = _push(heap_key, heap_id, heap_score, size, n, key, p, score)
    return _best_first(heap_key, heap_id, heap_score, size)


@numba.njit(cache=True, nogil=True)
def select_best_articles(scores, block_max, k, live, article, scale
                         ):  # pragma: no cover - compiled
    """The ``k`` articles whose best passage's score times ``scale`` (float32) is largest
    and positive, best first (then by that passage's number): each one's best passage (the
    lowest of equals), its scaled score and that score as float64; every score and block
    maximum is set back to 0. ``article`` must not decrease (an article's passages are
    consecutive); a passage ``live`` (a boolean per passage, empty for all) leaves out is
    skipped. A block whose largest scaled score is below the k-th best so far is not read."""
    heap_key, heap_id, heap_score = _new_heap(k)
    size = 0
    n_passages = scores.size
    current, best, best_passage = -1, np.float32(0), -1   # the article being read
    for b in range(block_max.size):
        top = block_max[b]
        if top == 0:
            continue
        block_max[b] = 0
        lo = b << SHIFT
        hi = min(lo + (1 << SHIFT), n_passages)
        if k == 0 or (size == k and np.float64(top * scale) < heap_key[0]):
            scores[lo:hi] = 0     # (nothing here can be an article's best among the k)
            continue
        for p in range(lo, hi):
            score = scores[p]
            if score == 0:
                continue
            scores[p] = 0
            if live.size and not live[p]:
                continue
            value = score * scale
            if not value > 0:
                continue
            a = article[p]
            if a != current:
                if best_passage >= 0:
                    size = _push(heap_key, heap_id, heap_score, size, k, np.float64(best),
                                 best_passage, best)
                current, best, best_passage = a, value, p
            elif value > best:
                best, best_passage = value, p
    if best_passage >= 0 and k > 0:
        size = _push(heap_key, heap_id, heap_score, size, k, np.float64(best), best_passage,
                     best)
    return _best_first(heap_key, heap_id, heap_score, size)
