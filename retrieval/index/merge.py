"""Merging segments into one, in bounded memory.

The live articles of several segments (in order, without their tombstoned ones) are written
as one new segment directly into its files (``.npy`` opened with ``open_memmap``, blobs
copied in runs): postings a range of terms at a time, everything else a block of rows at a
time, so the memory a merge takes is bounded by ``BLOCK`` rows and ``POSTINGS_BLOCK``
postings, not by the index (a million passages merge in a few hundred MB)."""
from __future__ import annotations

import json
import mmap
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import storage
from retrieval.index.batch import ARRAY_NAMES, offset_dtype, term_dtype
from retrieval.index.segment import SEGMENT_FORMAT, Segment

BLOCK = 1 << 20          # rows (sentences, passages, articles) handled at a time
POSTINGS_BLOCK = 1 << 22 # postings merged at a time (about 150 MB of work arrays)

_SPAN_SHIFTS = {"passage_article": "article", "sentence_article": "article",
                "sentence_passage": "passage"}


class _Plan:
    """What survives of one segment and where it goes: keep masks and new numbers."""

    def __init__(self, segment: Segment, gone: np.ndarray | None, bases: tuple[int, int, int],
                 union_position: dict[str, int]) -> None:
        a = segment.arrays
        self.segment = segment
        self.keep_article = (np.ones(segment.n_articles, dtype=bool) if gone is None
                             else ~np.asarray(gone, dtype=bool))
        self.whole = bool(self.keep_article.all())
        self.keep_passage = self.keep_article[a.passage_article] if not self.whole else None
        self.keep_sentence = self.keep_article[a.sentence_article] if not self.whole else None
        self.new = {}
        for kind, keep, size, base in (("article", self.keep_article, segment.n_articles,
                                        bases[0]),
                                       ("passage", self.keep_passage, a.n_passages, bases[1]),
                                       ("sentence", self.keep_sentence, a.n_sentences, bases[2])):
            self.new[kind] = (np.arange(size, dtype=np.int64) + base if keep is None
                              else np.cumsum(keep, dtype=np.int64) - 1 + base)
        self.counts = (int(self.keep_article.sum()),
                       a.n_passages if self.whole else int(self.keep_passage.sum()),
                       a.n_sentences if self.whole else int(self.keep_sentence.sum()))
        self.remap = np.fromiter((union_position[t] for t in a.vocabulary), dtype=np.int64,
                                 count=len(a.vocabulary))

    def kept_df(self) -> np.ndarray:
        """Per local term, its postings in kept passages."""
        a = self.segment.arrays
        df = np.diff(np.asarray(a.passage_indptr)).astype(np.int64)
        if self.whole:
            return df
        indptr = np.asarray(a.passage_indptr)
        lo = 0
        while lo < len(a.vocabulary):
            hi = int(np.searchsorted(indptr, int(indptr[lo]) + POSTINGS_BLOCK, side="right")) - 1
            hi = min(len(a.vocabulary), max(hi, lo + 1))
            start, end = int(a.passage_indptr[lo]), int(a.passage_indptr[hi])
            dead = ~self.keep_passage[np.asarray(a.passage_ids[start:end])]
            terms = np.repeat(np.arange(lo, hi), np.diff(np.asarray(a.passage_indptr[lo:hi + 1])))
            df[lo:hi] -= np.bincount(terms[dead] - lo, minlength=hi - lo)
            lo = hi
        return df


def _release(arrays: Iterable[object]) -> None:
    """Drop the pages of memory-mapped ``arrays`` from this process (written ones flushed
    first): the files stay in the page cache, but a merge's resident memory stays bounded by
    its blocks instead of growing to the size of every segment read and written."""
    for array in arrays:
        while array is not None and not isinstance(array, mmap.mmap):
            if isinstance(array, np.memmap):
                if array.mode != "r":
                    array.flush()
                array = getattr(array, "_mmap", None)
            else:
                array = getattr(array, "base", None)
        if isinstance(array, mmap.mmap):
            array.madvise(mmap.MADV_DONTNEED)


def _segment_arrays(plan: "_Plan") -> list[object]:
    a = plan.segment.arrays
    return [getattr(a, n) for n in ARRAY_NAMES] + list(plan.segment.store.arrays.values()) + [
        plan.segment.store._text, plan.segment.store._meta]


def _blocks(size: int) -> Iterator[tuple[int, int]]:
    for lo in range(0, size, BLOCK):
        yield lo, min(size, lo + BLOCK)


def merge_segments(directory: Path, segments: Sequence[Segment],
                   deleted: Sequence[np.ndarray | None], params: dict[str, Any]) -> dict[str, Any]:
    """Write the live articles of ``segments`` as one segment into ``directory``; returns
    its manifest (without the files, which ``storage`` adds)."""
    union = sorted(set().union(*(s.vocabulary for s in segments))) if len(segments) > 1 \
        else list(segments[0].vocabulary)
    position = {t: i for i, t in enumerate(union)}
    plans, bases = [], (0, 0, 0)
    for segment, gone in zip(segments, deleted):
        plan = _Plan(segment, gone, bases, position)
        plans.append(plan)
        bases = tuple(b + c for b, c in zip(bases, plan.counts))  # type: ignore[assignment]
    n_art, n_p, n_s = bases
    # a term no kept passage holds any more is dropped from the vocabulary
    df = np.zeros(len(union), dtype=np.int64)
    for plan in plans:
        np.add.at(df, plan.remap, plan.kept_df())
    alive = df > 0
    renumber = np.cumsum(alive) - 1
    vocabulary = union if alive.all() else [union[i] for i in np.flatnonzero(alive)]
    for plan in plans:
        plan.remap = np.where(alive[plan.remap], renumber[plan.remap], -1)
    df = df[alive]
    nnz_p = int(df.sum())
    nnz_s = sum(int(np.asarray(p.segment.arrays.sentence_indptr)[-1]) if p.whole else int(
        np.diff(np.asarray(p.segment.arrays.sentence_indptr))[p.keep_sentence].sum())
        for p in plans)
    first = segments[0].arrays
    sizes = {"passage_indptr": len(vocabulary) + 1, "passage_ids": nnz_p, "passage_tf": nnz_p,
             "sentence_indptr": n_s + 1, "sentence_terms": nnz_s,
             "passage_first_sentence": n_p + 1}
    # the narrow types of ``batch``: by the merged sizes, or the widest of the segments'
    bounded = {"passage_indptr": offset_dtype(nnz_p), "sentence_indptr": offset_dtype(nnz_s),
               "sentence_terms": term_dtype(len(vocabulary)),
               "passage_first_sentence": offset_dtype(n_s)}
    out = {}
    for name in ARRAY_NAMES:
        dtype = bounded.get(name, getattr(first, name).dtype)
        if name.endswith(("_tf", "_length")):
            dtype = np.result_type(*(getattr(s.arrays, name).dtype for s in segments))
        size = sizes.get(name, n_p if name.startswith("passage") else n_s)
        out[name] = np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+",
                                               dtype=dtype, shape=(size,))
    _merge_postings(out, plans, df, len(vocabulary))
    _merge_rows(out, plans, n_s)
    store_manifest = _merge_store(directory, plans, n_art)
    for array in out.values():
        array.flush()
    del out
    data = json.dumps(vocabulary, ensure_ascii=False).encode("utf-8")
    storage.write_with(directory / "vocabulary.json", lambda f: f.write(data))
    return {"kind": "segment", "segment_format": SEGMENT_FORMAT, **params, **store_manifest,
            "passages": n_p, "sentences": n_s, "terms": len(vocabulary)}


def _merge_postings(out: dict[str, np.ndarray], plans: Sequence[_Plan], df: np.ndarray,
                    n_terms: int) -> None:
    indptr = out["passage_indptr"]
    indptr[0] = 0
    np.cumsum(df, out=indptr[1:])
    lo = 0
    while lo < n_terms:
        # the next terms holding at most POSTINGS_BLOCK postings (or one term, however many)
        hi = int(np.searchsorted(indptr, int(indptr[lo]) + POSTINGS_BLOCK, side="right")) - 1
        hi = min(n_terms, max(hi, lo + 1))
        block, lo = (lo, hi), hi
        terms, ids, tfs = [], [], []
        for plan in plans:
            a = plan.segment.arrays
            live = np.flatnonzero(plan.remap >= 0)
            local = live[(plan.remap[live] >= block[0]) & (plan.remap[live] < block[1])]
            if local.size == 0:
                continue
            # the kept local terms of this block are contiguous among the live ones
            starts = np.asarray(a.passage_indptr)[local]
            ends = np.asarray(a.passage_indptr)[local + 1]
            lengths = ends - starts
            positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
                starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
            passage = np.asarray(a.passage_ids)[positions]
            term = np.repeat(plan.remap[local], lengths)
            tf = np.asarray(a.passage_tf)[positions]
            if not plan.whole:
                kept = plan.keep_passage[passage]
                passage, term, tf = passage[kept], term[kept], tf[kept]
            terms.append(term)
            ids.append(plan.new["passage"][passage])
            tfs.append(tf)
        if not terms:
            continue
        term = np.concatenate(terms)
        order = np.argsort(term, kind="stable")   # segments in order, passages ascending
        start, end = int(indptr[block[0]]), int(indptr[block[1]])
        out["passage_ids"][start:end] = np.concatenate(ids)[order]
        out["passage_tf"][start:end] = np.concatenate(tfs)[order]
        _release([out["passage_ids"], out["passage_tf"]] + [
            x for p in plans for x in (p.segment.arrays.passage_ids, p.segment.arrays.passage_tf)])


def _merge_rows(out: dict[str, np.ndarray], plans: Sequence[_Plan], n_s: int) -> None:
    cursor = {"passage": 0, "sentence": 0, "entries": 0}
    out["sentence_indptr"][0] = 0
    for plan in plans:
        a = plan.segment.arrays
        for kind in ("passage", "sentence"):
            keep = plan.keep_passage if kind == "passage" else plan.keep_sentence
            size = a.n_passages if kind == "passage" else a.n_sentences
            for lo, hi in _blocks(size):
                mask = slice(None) if keep is None else keep[lo:hi]
                rows = np.arange(lo, hi)[mask]
                at = cursor[kind]
                for name in ARRAY_NAMES:
                    if not name.startswith(kind) or name in (
                            "passage_indptr", "passage_ids", "passage_tf", "sentence_indptr",
                            "sentence_terms", "passage_first_sentence"):
                        continue
                    values = np.asarray(getattr(a, name)[lo:hi])[mask]
                    shift = _SPAN_SHIFTS.get(name)
                    if shift is not None:
                        values = plan.new[shift][values]
                    out[name][at:at + rows.size] = values
                if kind == "passage":
                    firsts = np.asarray(a.passage_first_sentence[lo:hi])[mask]
                    out["passage_first_sentence"][at:at + rows.size] = plan.new["sentence"][firsts] \
                        if firsts.size else firsts
                else:
                    indptr = np.asarray(a.sentence_indptr)
                    lengths = np.diff(indptr[lo:hi + 1])[mask]
                    starts = indptr[lo:hi][mask]
                    positions = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
                        starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
                    entries = cursor["entries"]
                    count = positions.size
                    out["sentence_terms"][entries:entries + count] = \
                        plan.remap[np.asarray(a.sentence_terms)[positions]]
                    out["sentence_indptr"][at + 1:at + 1 + rows.size] = entries + np.cumsum(lengths)
                    cursor["entries"] = entries + count
                cursor[kind] = at + rows.size
                _release(list(out.values()) + _segment_arrays(plan))
        _release(_segment_arrays(plan))
    out["passage_first_sentence"][-1] = n_s


def _merge_store(directory: Path, plans: Sequence[_Plan], n_art: int) -> dict[str, Any]:
    names = sorted({n for p in plans for n in p.segment.store.sources})
    number = {n: i for i, n in enumerate(names)}
    arrays = {
        "article_length": np.int32, "article_year": np.int32, "article_ordinal": np.float64,
        "article_source": np.int32, "article_url_key": np.uint64,
        "article_text_offsets": np.int64, "article_meta_offsets": np.int64}
    out = {name: np.lib.format.open_memmap(
        directory / f"{name}.npy", mode="w+", dtype=dtype,
        shape=(n_art + 1 if name.endswith("offsets") else n_art,)) for name, dtype in arrays.items()}
    ids: list[str] = []
    at = 0
    written = {"text": 0, "meta": 0}
    with open(directory / "article_text.bin", "wb") as text_file, \
            open(directory / "article_meta.bin", "wb") as meta_file:
        for name in ("article_text_offsets", "article_meta_offsets"):
            out[name][0] = 0
        for plan in plans:
            store = plan.segment.store
            kept = np.flatnonzero(plan.keep_article)
            ids.extend(store.ids if plan.whole else (store.ids[i] for i in kept))
            codes = np.asarray([number[n] for n in store.sources], dtype=np.int32)
            for name in ("article_length", "article_year", "article_ordinal", "article_url_key"):
                out[name][at:at + kept.size] = np.asarray(store.arrays[name])[kept]
            out["article_source"][at:at + kept.size] = (
                codes[np.asarray(store.arrays["article_source"])[kept]] if kept.size else [])
            for blob, handle, key in ((store._text, text_file, "text"),
                                      (store._meta, meta_file, "meta")):
                offsets = np.asarray(store.arrays[f"article_{key}_offsets"])
                sizes = offsets[kept + 1] - offsets[kept]
                out[f"article_{key}_offsets"][at + 1:at + 1 + kept.size] = \
                    written[key] + np.cumsum(sizes)
                for lo, hi in _runs(kept):   # contiguous runs of kept articles, copied whole
                    start, end = int(offsets[lo]), int(offsets[hi])
                    for chunk in range(start, end, 1 << 24):
                        handle.write(bytes(blob[chunk:min(end, chunk + (1 << 24))]))
                        _release([blob])
                written[key] += int(sizes.sum())
            at += kept.size
            _release(list(out.values()) + _segment_arrays(plan))
        for handle in (text_file, meta_file):
            handle.flush()
    for array in out.values():
        array.flush()
    del out
    for name, value in (("article_ids", ids), ("article_sources", names)):
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        storage.write_with(directory / f"{name}.json", lambda f, d=data: f.write(d))
    return {"articles": n_art}


def _runs(kept: np.ndarray) -> Iterator[tuple[int, int]]:
    """``kept`` (sorted article numbers) as half-open runs of consecutive numbers."""
    if kept.size == 0:
        return
    breaks = np.flatnonzero(np.diff(kept) != 1)
    starts = np.concatenate([[kept[0]], kept[breaks + 1]])
    ends = np.concatenate([kept[breaks], [kept[-1]]]) + 1
    yield from zip(starts.tolist(), ends.tolist())
