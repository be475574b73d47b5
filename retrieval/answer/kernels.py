"""Compiled kernels of the first stage (numba), for large indexes.

``add_postings`` adds the BM25-weighted postings of a question's terms into a dense score per
passage and notes each passage it touches for the first time; ``select_best`` then reads only
the touched passages, keeps the ``n`` best in one pass (a bounded heap) and sets their scores
back to 0, so the buffers serve the next question without being cleared. Together they are
``PassageSearcher``'s scipy path (``TfidfIndex.passage_scores``, ``_contenders``, ``_top``) in
one pass over the postings, with the same float32 arithmetic in the same order, so the scores
and the chosen passages are identical, ties included (tests/test_first_stage_compiled.py).

Importing this module imports numba (about 0.3 s); the compiled code is cached on disk
(``cache=True``: beside this file in ``__pycache__``, or in the user's cache directory when
that is not writable), so only the first process after an install compiles it.
"""
from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def add_postings(scores, touched, n_touched, indptr, ids, tf, norms, base, local_terms, idfs,
                 weights, k1_plus_1):  # pragma: no cover - compiled
    """Add ``weights[t] * idf * tf * (k1 + 1) / (tf + norm)`` of each posting of local term
    ``local_terms[t]`` (skipped when -1) to ``scores[base + passage]``, in term order, as
    ``TfidfIndex._posting_weights`` weighs it (float32). A passage whose score leaves 0 is
    appended to ``touched``; returns the new number of touched passages."""
    for t in range(local_terms.size):
        term = local_terms[t]
        if term < 0:
            continue
        idf = idfs[t]
        weight = weights[t]
        for j in range(indptr[term], indptr[term + 1]):
            p = ids[j]
            count = np.float32(tf[j])
            w = count * k1_plus_1 / (count + norms[p]) * idf * weight
            q = base + p
            before = scores[q]
            scores[q] = before + w
            if before == 0 and scores[q] != 0:
                touched[n_touched] = q
                n_touched += 1
    return n_touched


@numba.njit(inline="always")
def _worse(key_a, id_a, key_b, id_b):  # pragma: no cover - compiled
    """Whether (key_a, id_a) ranks below (key_b, id_b): a lower key, or the same and a
    higher id."""
    return key_a < key_b or (key_a == key_b and id_a > id_b)


@numba.njit(cache=True, nogil=True)
def select_best(scores, touched, n_touched, n, live, article, allowed, preference
                ):  # pragma: no cover - compiled
    """The ``n`` touched passages with the largest positive keys, best first (by key, then
    by the lowest passage number), with their scores and keys; every touched score is set
    back to 0. A passage is left out when ``live`` (a boolean per passage, empty for all)
    or ``allowed`` (a boolean per article, empty for all) says so; its key is its score
    times ``preference`` of its article (float64; empty: the score itself)."""
    heap_key = np.empty(n, dtype=np.float64)
    heap_id = np.empty(n, dtype=np.int64)
    heap_score = np.empty(n, dtype=np.float32)
    size = 0
    for i in range(n_touched):
        p = touched[i]
        score = scores[p]
        scores[p] = 0
        if live.size and not live[p]:
            continue
        if allowed.size and not allowed[article[p]]:
            continue
        key = np.float64(score)
        if preference.size:
            key = key * preference[article[p]]
        if not key > 0:
            continue
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
        elif n > 0 and _worse(heap_key[0], heap_id[0], key, p):   # replace the worst, sift down
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
            continue
        heap_key[j], heap_id[j], heap_score[j] = key, p, score
    # best first: insertion sort of the (few) kept passages
    for i in range(1, size):
        k, q, s = heap_key[i], heap_id[i], heap_score[i]
        j = i - 1
        while j >= 0 and _worse(heap_key[j], heap_id[j], k, q):
            heap_key[j + 1], heap_id[j + 1], heap_score[j + 1] = \
                heap_key[j], heap_id[j], heap_score[j]
            j -= 1
        heap_key[j + 1], heap_id[j + 1], heap_score[j + 1] = k, q, s
    return heap_id[:size], heap_score[:size], heap_key[:size]
