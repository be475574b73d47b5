"""Building, committing, growing, shrinking and merging an index of segments on disk.

Layout of an index directory (``retrieval.storage`` keeps the marker, lock and ``CURRENT``)::

    seg-000001/          a segment: postings, spans, article store, manifest (never changed)
    seg-000004/
    gen-000007/          a commit: manifest.json (parameters, corpus stamps, the segments in
                         order with their counts, the global statistics' numbers),
                         vocabulary.json and df.npy (the live terms and their document
                         frequencies), terms.seg-N.npy (each segment's term numbers in the
                         vocabulary, -1: no live passage holds it), deleted.seg-N.npy (a
                         segment's tombstones: a boolean per article), stop_words.json

A build streams the corpus in batches of ``batch_chars`` characters, analyses each batch in
one of ``jobs`` processes and writes it as a segment (memory bounded by the batches in
flight); a commit then lists the segments. ``add_articles`` writes one new segment,
``delete_articles`` new tombstones, ``compact`` one segment in place of several; each commits
a new generation, so a reader opens a whole old or a whole new state."""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from retrieval import storage
from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import IndexFormatError
from retrieval.index import pool
from retrieval.index.batch import SegmentArrays, analyse_batch
from retrieval.index.merge import merge_segments
from retrieval.index.pool import Runner, default_jobs
from retrieval.index.runs import balanced_runs
from retrieval.index.segment import Segment, open_segment, write_segment
from retrieval.index.stats import GlobalStats, combine
from retrieval.index.store import ArticleStore, StoreData, store_data
from retrieval.text import SegmentationRules

if TYPE_CHECKING:
    from retrieval.index.facade import TfidfIndex

BATCH_CHARS = 8_000_000     # characters of article text per segment built (about 100 MB of
                            # memory in its worker)
MAX_SEGMENTS = 8            # more segments than this are merged after a commit: into one, or
                            # into min_segments (a cluster's shards; then above 2 × that)


# --------------------------------------------------------------------------------- batches
def batches(articles: Iterable[Article], batch_chars: int = BATCH_CHARS,
            batch_articles: int | None = None) -> Iterator[list[Article]]:
    """``articles`` in consecutive batches of about ``batch_chars`` characters (or
    ``batch_articles`` articles)."""
    batch: list[Article] = []
    chars = 0
    for article in articles:
        batch.append(article)
        chars += len(article.text)
        if chars >= batch_chars or (batch_articles is not None and len(batch) >= batch_articles):
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def _analyse(articles: list[Article], analyzer: Analyzer, rules: SegmentationRules
             ) -> tuple[SegmentArrays, StoreData]:
    return analyse_batch(articles, analyzer, rules), store_data(articles)


def _analyse_and_write(articles: list[Article], analyzer: Analyzer, rules: SegmentationRules,
                       directory: Path, params: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    arrays, store = _analyse(articles, analyzer, rules)
    return directory, write_segment(directory, arrays, store, params)


class _Progress:
    """A progress bar over the corpus's bytes (when the stream says how many) or its
    articles, with an ETA."""

    def __init__(self, articles: Iterable[Article], show: bool) -> None:
        total = getattr(articles, "total_bytes", None)
        self._stream = articles if total is not None else None
        if total is None and isinstance(articles, Sequence):
            total = sum(len(a.text) for a in articles)
        self.bar = tqdm(total=total, desc="indexing", unit="B" if self._stream else "char",
                        unit_scale=True, disable=not show, leave=False)
        self._done = 0

    def advance(self, batch: Sequence[Article]) -> None:
        done = (self._stream.bytes_read if self._stream is not None  # type: ignore[attr-defined]
                else self._done + sum(len(a.text) for a in batch))
        self.bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        self.bar.close()


def build_segments(index: "TfidfIndex", articles: Iterable[Article], *, n_jobs: int = 1,
                   progress: bool = False, batch_articles: int | None = None,
                   batch_chars: int = BATCH_CHARS) -> Iterator[Segment]:
    """``articles`` as in-memory segments (one per batch), analysed in ``n_jobs`` processes."""
    index.analyzer.stop_set()   # resolved once here: a task carries it to its worker, which
                                # would otherwise import scikit-learn for it (2 s of CPU)
    bar = _Progress(articles, progress)

    def tasks() -> Iterator[tuple[Any, ...]]:
        for batch in batches(articles, batch_chars, batch_articles):
            bar.advance(batch)
            yield batch, index.analyzer, index.rules

    try:
        for arrays, store in pool.run(tasks(), _analyse, n_jobs):
            yield Segment(arrays, ArticleStore.from_data(store))
    finally:
        bar.close()


# ------------------------------------------------------------------------------- commits
@dataclass(frozen=True)
class CommitInfo:
    """What a commit holds: its directory, the segments (in order) and the live counts."""

    generation: Path
    segments: tuple[str, ...]
    articles: int
    passages: int
    sentences: int


def _write_commit(writer: storage.Writer, index: "TfidfIndex", segments: Sequence[Segment],
                  deleted: Sequence[np.ndarray | None], fingerprint: str,
                  corpus_files: Sequence[Mapping[str, Any]], min_segments: int = 1
                  ) -> CommitInfo:
    """Commit ``segments``; the commit records ``min_segments``, the fewest segments a later
    merge may leave (a cluster's shards), whoever makes that merge."""
    stats, maps = combine(segments, deleted)

    def write(directory: Path) -> dict[str, Any]:
        def save(name: str, array: np.ndarray) -> None:
            storage.write_with(directory / name, lambda f: np.save(f, array, allow_pickle=False))

        for name, value in (("vocabulary", stats.vocabulary),
                            ("stop_words", sorted(index.analyzer.stop_set()))):
            data = json.dumps(value, ensure_ascii=False).encode("utf-8")
            storage.write_with(directory / f"{name}.json", lambda f, d=data: f.write(d))
        save("df.npy", stats.df)
        listed = []
        for segment, gone, terms in zip(segments, deleted, maps):
            save(f"terms.{segment.name}.npy", terms)
            if gone is not None and gone.any():
                save(f"deleted.{segment.name}.npy", gone)
            listed.append({"name": segment.name, **segment.summary(),
                           "deleted": int(gone.sum()) if gone is not None else 0})
        live = sum(s.n_articles - e["deleted"] for s, e in zip(segments, listed))
        return {**index.manifest_params(), "fingerprint": fingerprint,
                "corpus_files": [dict(f) for f in corpus_files], "articles": live,
                "passages": stats.passages, "sentences": stats.sentences,
                "terms": len(stats.vocabulary), "stats": stats.numbers(), "segments": listed,
                "min_segments": min_segments}

    generation = writer.commit(write)
    return CommitInfo(generation, tuple(s.name or "" for s in segments),
                      sum(e.n_articles for e in segments) - sum(
                          int(d.sum()) for d in deleted if d is not None),
                      stats.passages, stats.sentences)


def _publish(writer: storage.Writer, index: "TfidfIndex", segment: Segment) -> Segment:
    """Write an in-memory segment as a new segment directory."""
    tmp = writer.new_directory()
    store = segment.store
    data = StoreData(bytes(store._text), bytes(store._meta), dict(store.arrays), store.ids,
                     store.sources)
    manifest = write_segment(tmp, segment.arrays, data, index.segment_params())
    return Segment(segment.arrays, segment.store, writer.publish_segment(tmp, manifest))


def save_index(index: "TfidfIndex", root: Path) -> Path:
    """Write a fitted (or loaded) index under ``root`` as new segments and a commit."""
    with storage.writing(root) as writer:
        segments = [_publish(writer, index, s) for s in index.segments_]
        _write_commit(writer, index, segments, index.deleted_, index.fingerprint_,
                      index.corpus_files_)
    return root


def _write_segments(writer: storage.Writer, index: "TfidfIndex", articles: Iterable[Article],
                    jobs: int, progress: bool, batch_chars: int,
                    run: Runner | None = None, batch_articles: int | None = None) -> list[str]:
    """Stream ``articles`` into new segments (published, not yet committed), analysed and
    written by ``run`` (default: ``jobs`` local processes)."""
    params = index.segment_params()
    index.analyzer.stop_set()   # resolved once here, as in build_segments
    bar = _Progress(articles, progress)

    def tasks() -> Iterator[tuple[Any, ...]]:
        for batch in batches(articles, batch_chars, batch_articles):
            bar.advance(batch)
            yield batch, index.analyzer, index.rules, writer.new_directory(), params

    def local(tasks: Iterable[tuple[Any, ...]], function: Any, jobs: int) -> Iterator[Any]:
        return pool.run(tasks, function, jobs,
                        parents_own=() if writer.lock_fd is None else (writer.lock_fd,))

    try:
        return [writer.publish_segment(directory, manifest)
                for directory, manifest in (run or local)(tasks(), _analyse_and_write, jobs)]
    finally:
        bar.close()


def build(index: "TfidfIndex", root: Path, articles: Iterable[Article], *,
          jobs: int | None = None, progress: bool = False, fingerprint: str = "",
          corpus_files: Sequence[Mapping[str, Any]] | None = None,
          batch_chars: int = BATCH_CHARS, merge: bool = True,
          run: Runner | None = None, batch_articles: int | None = None,
          min_segments: int = 1) -> CommitInfo:
    """Build the index of ``articles`` (any iterable: a ``CorpusStream`` is read once, in
    bounded memory) under ``root`` with ``index``'s parameters: segments written by ``jobs``
    processes (default: every CPU; or by ``run(tasks, function, jobs)``, e.g. on a cluster),
    merged into one when there are several (unless not ``merge``: a cluster's shards serve
    whole segments), and committed.
    ``corpus_files`` (default: the stream's ``files``, once read) and ``fingerprint``
    (default: the stream's) go into the commit, for staleness, and ``min_segments`` (the
    shards of a cluster), which later merges respect whatever they are asked. Raises
    ``IndexLocationError`` when ``root`` is not ours, ``OSError`` when it cannot be written;
    the previous commit stays current on any failure."""
    jobs = default_jobs() if jobs is None else max(1, jobs)
    with storage.writing(root) as writer:
        names = _write_segments(writer, index, articles, jobs, progress, batch_chars, run,
                                batch_articles)
        if corpus_files is None:
            corpus_files = [asdict(f) for f in getattr(articles, "files", ())]
            fingerprint = fingerprint or getattr(articles, "fingerprint", "")
        segments = [open_segment(root, name, index.segment_params()) for name in names]
        if len(segments) > 1 and merge:
            segments = [_merge(writer, index, segments, [None] * len(segments))]
        return _write_commit(writer, index, segments, [None] * len(segments), fingerprint,
                             corpus_files, min_segments)


# ---------------------------------------------------------------------------------- reading
@dataclass(frozen=True, eq=False)
class Commit:
    """A commit as read: its manifest, its segments' names in order with each one's first
    (article, passage, sentence) number, tombstones, term numbers and the statistics, and
    the name of its generation (its directory)."""

    manifest: dict[str, Any]
    names: tuple[str, ...]
    bases: dict[str, tuple[int, int, int]]
    deleted: dict[str, np.ndarray | None]
    maps: dict[str, np.ndarray]
    stats: GlobalStats
    stop_words: frozenset[str]
    generation: str = ""


def read_commit(root: Path, generation: str | None = None) -> Commit:
    """The current commit of ``root`` (or the one of ``generation``; its own small files,
    checksums verified). Raises ``IndexFormatError`` when there is none or it is damaged."""
    from retrieval.index.facade import FORMAT_VERSION

    def read(files: storage.VerifiedFiles) -> Commit:
        manifest = dict(files.manifest)
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"index at {root} has format version "
                                   f"{manifest.get('format_version')}, expected "
                                   f"{FORMAT_VERSION}; rebuild it with `qabot index`")
        try:
            def load_json(name: str) -> Any:
                return json.loads(files.read(f"{name}.json").tobytes().decode("utf-8"))

            def load_npy(name: str) -> np.ndarray:
                import io
                return np.load(io.BytesIO(files.read(name).tobytes()), allow_pickle=False)

            listed = manifest["segments"]
            names = tuple(str(s["name"]) for s in listed)
            counts = np.array([[s["articles"], s["passages"], s["sentences"]] for s in listed],
                              dtype=np.int64).reshape(-1, 3)
            starts = np.vstack([np.zeros((1, 3), dtype=np.int64), np.cumsum(counts, axis=0)])
            bases = {n: tuple(int(x) for x in starts[i]) for i, n in enumerate(names)}
            deleted = {s["name"]: (load_npy(f"deleted.{s['name']}.npy").astype(bool)
                                   if s.get("deleted") else None) for s in listed}
            maps = {n: load_npy(f"terms.{n}.npy").astype(np.int32) for n in names}
            vocabulary = load_json("vocabulary")
            numbers = manifest["stats"]
            stats = GlobalStats(vocabulary, load_npy("df.npy").astype(np.int64),
                                int(numbers["passages"]), int(numbers["passage_length"]),
                                int(numbers["sentences"]), int(numbers["sentence_length"]))
            stop_words = frozenset(load_json("stop_words"))
        except (FileNotFoundError, IndexFormatError):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever damage makes json/numpy raise
            raise IndexFormatError(f"index at {root} is damaged ({type(exc).__name__}: {exc}); "
                                   "rebuild it with `qabot index`") from None
        problem = _commit_problem(stats, maps, names, counts, deleted)
        if problem:
            raise IndexFormatError(f"index at {root} is damaged ({problem}); "
                                   "rebuild it with `qabot index`")
        return Commit(manifest, names, bases, deleted, maps, stats, stop_words,
                      files.directory.name)

    return storage.load_generation(root, read, generation)


def _commit_problem(stats: GlobalStats, maps: Mapping[str, np.ndarray], names: Sequence[str],
                    counts: np.ndarray, deleted: Mapping[str, np.ndarray | None]) -> str | None:
    vocabulary = stats.vocabulary
    if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary) \
            or any(a >= b for a, b in zip(vocabulary, vocabulary[1:])):
        return "the vocabulary is not sorted and unique"
    if stats.df.shape != (len(vocabulary),) or np.any(stats.df <= 0) or (
            stats.df.size and stats.df.max() > stats.passages):
        return "the document frequencies (df) are out of range"
    for name, row in zip(names, counts):
        terms = maps[name]
        if terms.size and (terms.min() < -1 or terms.max() >= len(vocabulary)):
            return f"the term numbers of {name} are out of range"
        gone = deleted[name]
        if gone is not None and gone.shape != (row[0],):
            return f"the tombstones of {name} do not fit it"
    return None


def open_index(cls: type["TfidfIndex"], root: Path, names: Sequence[str] | None = None,
               generation: str | None = None) -> "TfidfIndex":
    """Open the current commit of ``root`` (or the one of ``generation``; only the segments
    ``names``, when given)."""
    from retrieval.analysis import Analyzer as _Analyzer
    for attempt in range(storage.READ_ATTEMPTS):
        commit = read_commit(root, generation)
        manifest = commit.manifest
        try:
            index = cls(_Analyzer(**manifest["analyzer"], stop_list=commit.stop_words),
                        sublinear_tf=manifest["sublinear_tf"],
                        rules=SegmentationRules(**manifest["rules"]),
                        weighting=manifest["weighting"], **manifest["bm25"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexFormatError(f"index at {root} is damaged (its manifest: {exc}); "
                                   "rebuild it with `qabot index`") from None
        chosen = commit.names if names is None else tuple(names)
        unknown = [n for n in chosen if n not in commit.bases]
        if unknown:
            raise IndexFormatError(f"index at {root} has no segment {unknown[0]} (it has "
                                   f"{', '.join(commit.names)})")
        try:
            segments = [open_segment(root, n, index.segment_params()) for n in chosen]
        except FileNotFoundError:
            if generation is None and attempt + 1 < storage.READ_ATTEMPTS and \
                    storage.current_generation(root) != commit.generation:
                continue   # merged away by a newer commit meanwhile: read that one
            raise IndexFormatError(f"index at {root} is damaged (a segment is missing); "
                                   "rebuild it with `qabot index`" if generation is None else
                                   f"the index at {root} no longer has the segments of commit "
                                   f"{generation} (a newer commit replaced it)") from None
        index.fingerprint_ = manifest.get("fingerprint", "")
        stamps = manifest.get("corpus_files", ())
        index.corpus_files_ = tuple(stamps) if isinstance(stamps, list) else ()
        index.commit_ = commit
        return index.attach(segments, [commit.deleted[n] for n in chosen], commit.stats,
                            [commit.maps[n] for n in chosen])
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ changing a committed index
def _open_all(root: Path, index: "TfidfIndex") -> tuple[Commit, list[Segment],
                                                         list[np.ndarray | None]]:
    commit = read_commit(root)
    params = index.manifest_params()
    if {k: commit.manifest.get(k) for k in params} != params:
        raise IndexFormatError(f"the index at {root} was built with other retrieval settings; "
                               "rebuild it with `qabot index`")
    segments = [open_segment(root, n, index.segment_params()) for n in commit.names]
    return commit, segments, [commit.deleted[n] for n in commit.names]


def add_articles(index: "TfidfIndex", root: Path, articles: Iterable[Article], *,
                 corpus_files: Sequence[Mapping[str, Any]] | None = None,
                 fingerprint: str | None = None, jobs: int = 1, progress: bool = False,
                 replace: bool = True, min_segments: int = 1) -> CommitInfo:
    """Add ``articles`` to the committed index at ``root`` as new segment(s) and commit.
    An article whose id the index already holds replaces it (the old one is tombstoned)
    when ``replace``, else ``ValueError``. ``corpus_files``/``fingerprint`` (the corpus as it
    now is) replace the commit's when given. Merges when segments pile up, leaving at least
    ``min_segments`` (the shards of a cluster)."""
    articles = list(articles)
    with storage.writing(root) as writer:
        commit, segments, deleted = _open_all(root, index)
        new_ids = {a.id for a in articles}
        if len(new_ids) != len(articles):
            raise ValueError("the articles to add repeat an id")
        deleted = _tombstone(segments, deleted, new_ids, must_exist=False,
                             allow=replace)
        names = _write_segments(writer, index, articles, jobs, progress, BATCH_CHARS)
        segments += [open_segment(root, n, index.segment_params()) for n in names]
        deleted += [None] * len(names)
        return _finish(writer, index, commit, segments, deleted, corpus_files, fingerprint,
                       min_segments)


def delete_articles(index: "TfidfIndex", root: Path, article_ids: Iterable[str], *,
                    corpus_files: Sequence[Mapping[str, Any]] | None = None,
                    fingerprint: str | None = None, min_segments: int = 1) -> CommitInfo:
    """Delete the articles ``article_ids`` from the committed index at ``root`` (tombstones;
    no segment is rewritten) and commit. Raises ``KeyError`` naming an id it does not hold.
    ``min_segments``: as for ``add_articles``."""
    with storage.writing(root) as writer:
        commit, segments, deleted = _open_all(root, index)
        deleted = _tombstone(segments, deleted, set(article_ids), must_exist=True)
        return _finish(writer, index, commit, segments, deleted, corpus_files, fingerprint,
                       min_segments)


def compact(index: "TfidfIndex", root: Path, segments: int = 1) -> CommitInfo:
    """Merge the segments of the committed index at ``root`` into ``segments`` (one; a
    cluster's shards), or into the more the commit records (``min_segments``), without its
    deleted articles, and commit."""
    with storage.writing(root) as writer:
        commit, opened, deleted = _open_all(root, index)
        segments = max(segments, _recorded_min_segments(commit.manifest))
        merged, gone = _merge_runs(writer, index, opened, deleted, segments, every=True)
        return _write_commit(writer, index, merged, gone, commit.manifest["fingerprint"],
                             commit.manifest.get("corpus_files") or (), segments)


def _tombstone(segments: Sequence[Segment], deleted: list[np.ndarray | None], ids: set[str],
               *, must_exist: bool, allow: bool = True) -> list[np.ndarray | None]:
    found: set[str] = set()
    result = []
    for segment, gone in zip(segments, deleted):
        hit = np.fromiter((i in ids for i in segment.store.ids), dtype=bool,
                          count=segment.n_articles)
        if gone is not None:
            hit &= ~gone
        if hit.any():
            found.update(i for i, h in zip(segment.store.ids, hit) if h)
            gone = hit if gone is None else (gone | hit)
        result.append(gone)
    if must_exist and found != ids:
        raise KeyError(sorted(ids - found)[0])
    if found and not allow:
        raise ValueError(f"the index already holds article {sorted(found)[0]!r}")
    return result


def _finish(writer: storage.Writer, index: "TfidfIndex", commit: Commit,
            segments: list[Segment], deleted: list[np.ndarray | None],
            corpus_files: Sequence[Mapping[str, Any]] | None, fingerprint: str | None,
            min_segments: int = 1) -> CommitInfo:
    min_segments = max(min_segments, _recorded_min_segments(commit.manifest))
    if len(segments) > max(MAX_SEGMENTS, 2 * min_segments):
        segments, deleted = _merge_runs(writer, index, segments, deleted, min_segments)
    return _write_commit(writer, index, segments, deleted,
                         commit.manifest["fingerprint"] if fingerprint is None else fingerprint,
                         commit.manifest.get("corpus_files") or ()
                         if corpus_files is None else corpus_files, min_segments)


def _recorded_min_segments(manifest: Mapping[str, Any]) -> int:
    """The fewest segments a merge of the committed index may leave (1 when not recorded:
    an index committed before this was recorded)."""
    value = manifest.get("min_segments", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


# ----------------------------------------------------------------------------------- merging
def _merge_runs(writer: storage.Writer, index: "TfidfIndex", segments: Sequence[Segment],
                deleted: Sequence[np.ndarray | None], runs: int, *, every: bool = False
                ) -> tuple[list[Segment], list[np.ndarray | None]]:
    """``segments`` cut into ``runs`` runs of consecutive segments with about as many
    passages each (``balanced_runs``), each run merged into one segment (a run of one
    segment is kept as it is, unless ``every``); the order of the articles is kept."""
    merged: list[Segment] = []
    gone: list[np.ndarray | None] = []
    for run in balanced_runs([s.arrays.n_passages for s in segments], runs):
        if len(run) == 1 and not every:
            merged.append(segments[run.start])
            gone.append(deleted[run.start])
        else:
            merged.append(_merge(writer, index, segments[run.start:run.stop],
                                 deleted[run.start:run.stop]))
            gone.append(None)
    return merged, gone


def _merge(writer: storage.Writer, index: "TfidfIndex", segments: Sequence[Segment],
           deleted: Sequence[np.ndarray | None]) -> Segment:
    """One new segment holding the live articles of ``segments``, in order, written in
    bounded memory (``retrieval.index.merge``) and published; the old segments are removed
    once a commit no longer lists them."""
    tmp = writer.new_directory()
    manifest = merge_segments(tmp, segments, deleted, index.segment_params())
    name = writer.publish_segment(tmp, manifest)
    return open_segment(writer.root, name, index.segment_params())
