"""A segment on disk: the arrays of a batch of articles (``batch.SegmentArrays``) and their
article store (``store``), each a plain ``.npy`` (or a blob and JSON), written once into a
``seg-N`` directory with a manifest of sizes and CRC-32s, and opened memory-mapped.

Opening checks what is cheap: the manifest, every file's size, the arrays' shapes and dtypes,
and, for a segment up to ``FULL_CHECK_BYTES``, every checksum and the arrays' values against
each other. A larger segment is not read whole on open (a million passages open in well under
a second): its checksums stay in its manifest for a later check, and a quote is checked
against its sentence's hash whenever it is shown."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval import storage
from retrieval.errors import IndexFormatError
from retrieval.index.batch import ARRAY_NAMES, SegmentArrays
from retrieval.index.store import (STORE_ARRAYS, STORE_BLOBS, ArticleStore, StoreChecks,
                                   StoreData)

SEGMENT_FORMAT = 3
FULL_CHECK_BYTES = 16 << 20    # verified whole on open up to this size (1 ms per MiB, and the
                               # arrays read whole): a few thousand passages
_MMAP_MIN_BYTES = 1 << 16      # smaller arrays are read (an mmap costs more than it saves)


@dataclass(frozen=True, eq=False)
class Segment:
    """One immutable segment, in memory or memory-mapped: its arrays, its vocabulary (sorted,
    local term numbers) and its articles. ``name`` is its directory's name (None until
    written)."""

    arrays: SegmentArrays
    store: ArticleStore
    name: str | None = None

    @property
    def n_articles(self) -> int:
        return len(self.store)

    @property
    def vocabulary(self) -> list[str]:
        return self.arrays.vocabulary

    def summary(self) -> dict[str, Any]:
        return {"articles": self.n_articles, "passages": self.arrays.n_passages,
                "sentences": self.arrays.n_sentences, "terms": len(self.vocabulary)}


def write_segment(directory: Path, arrays: SegmentArrays, store: StoreData,
                  params: dict[str, Any]) -> dict[str, Any]:
    """Write a segment's files into ``directory``; returns its manifest (without the files,
    which ``storage`` adds)."""
    def save(name: str, array: np.ndarray) -> None:
        storage.write_with(directory / f"{name}.npy",
                           lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))

    for name in ARRAY_NAMES:
        save(name, getattr(arrays, name))
    for name in STORE_ARRAYS:
        save(name, store.arrays[name])
    for name, blob in zip(STORE_BLOBS, (store.text, store.meta)):
        storage.write_with(directory / name, lambda f, b=blob: f.write(b))
    for name, value in (("vocabulary", arrays.vocabulary), ("article_ids", store.ids),
                        ("article_sources", store.sources)):
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        storage.write_with(directory / f"{name}.json", lambda f, d=data: f.write(d))
    return {"kind": "segment", "segment_format": SEGMENT_FORMAT, **params,
            "articles": len(store.ids), "passages": arrays.n_passages,
            "sentences": arrays.n_sentences, "terms": len(arrays.vocabulary)}


def open_segment(root: Path, name: str, params: dict[str, Any]) -> Segment:
    """Open segment ``name`` of the index at ``root``, memory-mapped, after the checks above.
    Raises ``IndexFormatError`` when it is missing, of other parameters or damaged
    (``FileNotFoundError`` when it vanished: a merge removed it after a newer commit)."""
    directory = root / name
    manifest = storage.read_directory_manifest(directory, root)
    if manifest.get("segment_format") != SEGMENT_FORMAT:
        raise IndexFormatError(f"index at {root} is damaged ({name} is not a segment of this "
                               "format); rebuild it with `qabot index`")
    if {k: manifest.get(k) for k in params} != params:
        raise IndexFormatError(f"index at {root} is damaged ({name} was built with other "
                               "parameters); rebuild it with `qabot index`")
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexFormatError(f"index at {root} is damaged ({name}'s manifest lists no files)")
    total = sum(f.get("bytes", 0) for f in files.values() if isinstance(f, dict)
                and isinstance(f.get("bytes"), int))
    full = total <= FULL_CHECK_BYTES
    checked: dict[str, storage.CheckedFile] = {}

    def path(file: str, *, lazy: bool = False) -> Path:
        """``file`` with its size checked, and verified: whole in a small segment; in a
        large one, whole when it is small beside the postings (per-article arrays, the
        lists), by a sample of its blocks otherwise (the rest as read), or (``lazy``) when
        it is read."""
        check = checked[file] = storage.CheckedFile(directory / file, files.get(file), root)
        if full or (not lazy and file.endswith(".json")) or file[:-4] in STORE_ARRAYS:
            check.verify()
        elif not lazy:
            check.verify_sample()
        return directory / file

    try:
        def array(file: str) -> np.ndarray:
            return _load_npy(path(f"{file}.npy"))

        def load_json(file: str) -> Any:
            return json.loads(path(f"{file}.json").read_text(encoding="utf-8"))

        vocabulary = load_json("vocabulary")
        arrays = SegmentArrays(vocabulary=vocabulary,
                               **{n: array(n) for n in ARRAY_NAMES})
        ids_file = path("article_ids.json", lazy=True)
        blobs = [_load_bytes(path(blob)) for blob in STORE_BLOBS]
        store = ArticleStore(blobs[0], blobs[1], {n: array(n) for n in STORE_ARRAYS},
                             json.loads(ids_file.read_text(encoding="utf-8")) if full else None,
                             load_json("article_sources"),
                             checks=StoreChecks(checked["article_ids.json"],
                                                checked[STORE_BLOBS[0]], checked[STORE_BLOBS[1]]))
    except (FileNotFoundError, IndexFormatError):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes numpy raise
        raise IndexFormatError(f"index at {root} is damaged ({name}: {type(exc).__name__}: "
                               f"{exc}); rebuild it with `qabot index`") from None
    segment = Segment(arrays, store, name)
    problem = shape_problem(segment, manifest) or (value_problem(segment) if full else None) \
        or store_problem(segment)
    if problem:
        raise IndexFormatError(f"index at {root} is damaged ({name}: {problem}); "
                               "rebuild it with `qabot index`")
    return segment


def _load_npy(path: Path) -> np.ndarray:
    if path.stat().st_size < _MMAP_MIN_BYTES:
        return np.load(path, allow_pickle=False)
    # A plain ndarray view of the map: numpy's memmap subclass costs microseconds per index.
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


def _load_bytes(path: Path) -> np.ndarray:
    if path.stat().st_size < _MMAP_MIN_BYTES:
        return np.frombuffer(path.read_bytes(), dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r").view(np.ndarray)


def shape_problem(segment: Segment, manifest: dict[str, Any]) -> str | None:
    """What is wrong with the arrays' shapes and dtypes (cheap: headers only), or None."""
    a, n_art = segment.arrays, len(segment.store)
    n_p, n_s, n_t = a.n_passages, a.n_sentences, len(a.vocabulary)
    if (manifest.get("articles"), manifest.get("passages"), manifest.get("sentences"),
            manifest.get("terms")) != (n_art, n_p, n_s, n_t):
        return "its counts disagree with its manifest"
    expected = {"passage_indptr": n_t + 1, "passage_ids": a.passage_tf.shape[0],
                "passage_tf": a.passage_ids.shape[0], "sentence_indptr": n_s + 1,
                "sentence_terms": int(a.sentence_indptr[-1]),
                "passage_first_sentence": n_p + 1}
    for name in ARRAY_NAMES:
        array = getattr(a, name)
        size = expected.get(name, n_p if name.startswith("passage") else n_s)
        if array.ndim != 1 or array.shape[0] != size:
            return f"{name} has {array.shape} entries, expected {size}"
    for name in STORE_ARRAYS:
        array = segment.store.arrays[name]
        size = n_art + 1 if name.endswith("offsets") else n_art
        if array.ndim != 1 or array.shape[0] != size:
            return f"{name} has {array.shape} entries, expected {size}"
    if int(a.passage_indptr[-1]) != a.passage_ids.shape[0] or \
            int(a.sentence_indptr[-1]) != a.sentence_terms.shape[0]:
        return "postings and their offsets disagree"
    return None


def store_problem(segment: Segment) -> str | None:
    """What is wrong with the per-article arrays' values (a segment's smallest arrays, read
    whole whatever its size), or None."""
    arrays, n_art = segment.store.arrays, len(segment.store)
    sources = segment.store.sources
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        return "its list of outlets is not a list of names"
    codes = arrays["article_source"]
    if n_art and (codes.min() < 0 or codes.max() >= len(sources)):
        return "article outlet numbers out of range"
    for blob, offsets in zip(STORE_BLOBS, ("article_text_offsets", "article_meta_offsets")):
        bounds = arrays[offsets]
        if bounds[0] != 0 or np.any(np.diff(bounds) < 0) or bounds[-1] != \
                segment.store.blob_size(blob):
            return f"the offsets into {blob} are out of order"
    if np.any(arrays["article_length"] < 0):
        return "negative article lengths"
    return None


def value_problem(segment: Segment) -> str | None:
    """What is wrong with the arrays' values (each read whole), or None."""
    a, n_art = segment.arrays, len(segment.store)
    n_p, n_s = a.n_passages, a.n_sentences
    vocabulary = a.vocabulary
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary) \
            or any(x >= y for x, y in zip(vocabulary, vocabulary[1:])):
        return "the vocabulary is not sorted and unique"
    for name, indptr, ids, bound in (("passage postings", a.passage_indptr, a.passage_ids, n_p),
                                     ("sentence terms", a.sentence_indptr, a.sentence_terms,
                                      len(vocabulary))):
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0) or (
                ids.size and (ids.min() < 0 or ids.max() >= bound)):
            return f"the {name} hold invalid entries"
    first = a.passage_first_sentence
    if first[0] != 0 or first[-1] != n_s or np.any(np.diff(first) < 0) or not np.array_equal(
            a.sentence_passage, np.repeat(np.arange(n_p), np.diff(first))):
        return "sentences and passages disagree"
    lengths = segment.store.arrays["article_length"]
    for kind, article, start, end in (
            ("passage", a.passage_article, a.passage_start, a.passage_end),
            ("sentence", a.sentence_article, a.sentence_start, a.sentence_end)):
        if article.size and (article.min() < 0 or article.max() >= n_art):
            return f"{kind} article numbers out of range"
        if np.any(start < 0) or np.any(end < start) or np.any(end > lengths[article]):
            return f"{kind} spans out of range of their articles"
        same = article[1:] == article[:-1]
        if np.any(article[1:] < article[:-1]) or np.any(same & (start[1:] < end[:-1])):
            return f"{kind} spans out of order"
    if not np.array_equal(a.passage_article[a.sentence_passage], a.sentence_article):
        return "sentences and passages disagree"
    terms, indptr = a.sentence_terms.astype(np.int64), a.sentence_indptr
    starts = indptr[:-1][indptr[:-1] < indptr[1:]]
    descending = np.diff(terms) < 0
    if descending.any() and not np.isin(np.flatnonzero(descending) + 1, starts).all():
        return "sentence terms out of order"
    passage_length = np.zeros(n_p, dtype=np.int64)
    np.add.at(passage_length, a.sentence_passage, np.diff(indptr))
    if not np.array_equal(passage_length, a.passage_length):
        return "passage lengths disagree with their sentences' terms"
    return None
