"""The question-answering service: owns the index (and its article store) and the answerer.

It opens the saved index (memory-mapped) when it matches the corpus: the corpus files'
sizes, times and inodes are compared with the stamps the index was built from, and only a
file whose stamp changed is read and hashed; the corpus is never parsed to answer. Otherwise
it rebuilds the index (streaming the corpus in batches, in ``index.jobs`` processes) and saves
it. It answers questions, and swaps in a new state atomically on ``reload`` (a rebuilt index,
or a new commit written by an ingestion): a question asked meanwhile is answered from the old
one. With ``cluster.enabled`` the first stage of every question runs on shards of the index
on a Ray cluster (``retrieval.cluster``), started from the saved commit and swapped with it.
Adapters (CLI, REPL, Discord) hold only a ``QAService``."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from retrieval.answerer import Answerer, Filters, Result
from retrieval.conversation import Conversation
from retrieval.corpus import Article, CorpusStream, scan_corpus
from retrieval.errors import (IndexFormatError, IndexLocationError, IndexUnavailableError,
                              QABotError)
from retrieval.index import (TfidfIndex, add_articles, build, compact, default_jobs,
                             delete_articles)
from retrieval.settings import Settings
from retrieval import storage
from retrieval.storage import POINTER, check_location

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class LoadReport:
    """How the service came to have its index."""

    articles: int
    passages: int
    sentences: int
    rebuilt: bool
    reason: str
    seconds: float
    index_dir: Path


@dataclass(frozen=True)
class _State:
    index: TfidfIndex
    answerer: Answerer
    commit: tuple[int, int] | None = None   # the stamp of CURRENT when it was opened


class QAService:
    """Loads or builds the index for the configured corpus and answers questions."""

    def __init__(self, settings: Settings, *, progress: bool = False,
                 rebuild: bool = False, save_required: bool = False) -> None:
        """Load the corpus and its index (building it when needed, or always with
        ``rebuild``). Shows a progress bar while building when ``progress``. A built index
        that cannot be saved is used from memory with a warning, or raises
        ``IndexLocationError`` when ``save_required``."""
        self.settings = settings
        self._progress = progress
        self._save_required = save_required
        self._reload_lock = threading.Lock()
        self._said: str | None = None           # the cluster's last warning, said once
        self._state, self.last_load = self._load(force_rebuild=rebuild)

    # ------------------------------------------------------------------------------ asking
    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            conversation: Conversation | None = None) -> Result:
        """Answer one question (inside ``conversation`` when given: its ``Result.turn`` is
        what to add to it). Raises ``QuestionError`` for an empty or oversized one.

        When another process has committed a change to the index (``qabot add``), the new
        commit is opened first (see ``pick_up_commit``). When the index turns out not to
        match the articles (a quoted span is not the sentence that was indexed), it is
        rebuilt and the question asked again, or, without ``index.auto_rebuild``,
        ``IndexFormatError`` is raised."""
        self.pick_up_commit()
        try:
            return self._rebuilt_on_damage(
                lambda state: state.answerer.ask(question, top_k, filters, conversation))
        except IndexUnavailableError as exc:    # a shard of the cluster is down: say so
            log.info("%s", exc)                 # the adapters show the result's message
            return Result(question, None, (), str(exc), unavailable=True)

    def _rebuilt_on_damage(self, read: Callable[[_State], T]) -> T:
        """``read(state)``; when it finds the index damaged (a file checked only as it is
        read), the index is rebuilt and it is read again, or, without
        ``index.auto_rebuild``, ``IndexFormatError`` is raised."""
        state = self._state
        try:
            return read(state)
        except IndexFormatError as exc:
            if not self.settings.index.auto_rebuild:
                raise IndexFormatError(f"{exc} (or set index.auto_rebuild = true)") from None
            if self._state is state:  # not rebuilt meanwhile for another question
                log.warning("%s; rebuilding it", exc)
                self.reload(force_rebuild=True)
            return read(self._state)

    @property
    def index(self) -> TfidfIndex:
        """The index questions are answered from now."""
        return self._state.index

    @property
    def articles(self) -> tuple[Article, ...]:
        """The articles of the index, in order (each read from the store: for listings)."""
        return self._rebuilt_on_damage(
            lambda state: tuple(state.index.articles_.live_articles()))

    def sources(self) -> list[str]:
        """The distinct source outlets of the articles, sorted."""
        return self._rebuilt_on_damage(lambda state: state.index.articles_.live_sources())

    def years(self) -> list[int]:
        """The years in which the articles were published, sorted."""
        return self._rebuilt_on_damage(lambda state: state.index.articles_.live_years())

    # ------------------------------------------------------------------------- (re)loading
    def reload(self, *, force_rebuild: bool = False) -> LoadReport:
        """Pick up the current state: the index's newest commit when it still matches the
        corpus (cheap: the commit is opened, memory-mapped), else a rebuilt one (or always
        a rebuilt one when forced); then swap it in. Questions asked during a reload are
        answered from the previous state."""
        with self._reload_lock:
            state, report = self._load(force_rebuild=force_rebuild)
            self._state, self.last_load = state, report
            return report

    def pick_up_commit(self) -> bool:
        """Open the index's current commit when another writer has replaced it since this
        service opened its own (one ``stat`` of ``CURRENT`` per call); True if it did. A
        reload already under way is not waited for: questions meanwhile are answered from
        the state they find, old or new, never a mix."""
        if self._state.commit is None or _commit_stamp(self.settings.index_dir) in (
                self._state.commit, None):
            return False
        if not self._reload_lock.acquire(blocking=False):
            return False
        try:
            if _commit_stamp(self.settings.index_dir) == self._state.commit:
                return False    # picked up by another thread meanwhile
            log.info("the index has a new commit; opening it")
            self._state, self.last_load = self._load(force_rebuild=False)
            return True
        except QABotError as exc:    # keep answering from the state we have
            log.warning("could not open the new commit of the index: %s", exc)
            return False
        finally:
            self._reload_lock.release()

    def apply_change(self, added: Sequence[Article] = (), removed: Sequence[str] = (),
                     files: Collection[str] = ()) -> LoadReport:
        """After article files were written into or removed from the corpus directory (their
        names ``files``): record the ``added`` articles and the ``removed`` ids in the index
        (see ``record_change``: time in proportion to the change) and open the result."""
        reason = record_change(self.settings, added, removed, files)
        report = self.reload()
        if reason is not None and report.rebuilt:
            report = replace(report, reason=reason)
            self.last_load = report
        return report

    def compact(self) -> LoadReport:
        """Merge the saved index's segments into one (as many as the cluster's shards when it
        is enabled), without its deleted articles, commit, and swap the result in."""
        with self._reload_lock:
            compact(self.settings.retrieval.index(), self.settings.index_dir,
                    served_shards(self.settings))
        return self.reload()

    def _load(self, *, force_rebuild: bool) -> tuple[_State, LoadReport]:
        started = time.perf_counter()
        settings = self.settings
        index_dir = settings.index_dir
        check_location(index_dir)  # not ours: stop before reading or building anything
        commit = _commit_stamp(index_dir)   # before reading it: a later commit is seen later
        manifest = None if force_rebuild else TfidfIndex.read_manifest(index_dir)
        stamps = manifest.get("corpus_files") if manifest else None  # a hint: saves hashing
        known = stamps if isinstance(stamps, list) else ()
        fresh = settings.retrieval.index()
        if force_rebuild:
            reason: str | None = "forced rebuild"
        else:
            _, fingerprint = scan_corpus(settings.corpus.path, known=known)
            reason = _staleness(fresh, fingerprint, manifest, index_dir, served_shards(settings))
            if reason is not None and settings.index.auto_rebuild and \
                    storage.wait_for_writer(index_dir, lambda: log.warning(
                        "another process is writing the index at %s: waiting for it",
                        index_dir)):
                # another process was building or saving it: read what it made, and build
                # only if that is not up to date either (never the same index twice at once)
                commit = _commit_stamp(index_dir)
                manifest = TfidfIndex.read_manifest(index_dir)
                reason = _staleness(fresh, fingerprint, manifest, index_dir,
                                    served_shards(settings))
        index: TfidfIndex | None = None
        if reason is None:
            try:
                index, reason = TfidfIndex.load(index_dir), "index up to date"
            except IndexFormatError as exc:
                index, reason = None, str(exc)
                if not settings.index.auto_rebuild:
                    raise IndexFormatError(f"{exc} (or set index.auto_rebuild = true)") from None
                log.warning("%s; rebuilding it", exc)
        elif not force_rebuild and not settings.index.auto_rebuild:
            raise IndexFormatError(f"the index at {index_dir} is out of date ({reason}); run "
                                   "`qabot index` or set index.auto_rebuild = true")
        rebuilt = index is None
        if index is None:
            log.info("building the index: %s", reason)
            index = self._build(fresh, index_dir, known)
        if rebuilt:
            commit = _commit_stamp(index_dir)
        first_stage = None
        if settings.cluster.enabled:
            from retrieval.cluster.coordinator import Cluster
            cluster = Cluster(index, index_dir, settings.cluster)
            if cluster.shortfall is not None and cluster.shortfall != self._said:
                log.warning("%s", cluster.shortfall)
            self._said = cluster.shortfall
            cluster.wait_ready()
            first_stage = cluster
        state = _State(index, Answerer(index, None, settings.answer,
                                       conversation=settings.conversation,
                                       first_stage=first_stage), commit)
        live = index.articles_.live
        report = LoadReport(len(index.articles_) if live is None else int(live.sum()),
                            index.stats_.passages, index.stats_.sentences, rebuilt, reason,
                            round(time.perf_counter() - started, 3), index_dir)
        return state, report

    def _build(self, fresh: TfidfIndex, index_dir: Path, known: Any) -> TfidfIndex:
        """Build the index of the corpus into ``index_dir`` and open it; when it cannot be
        saved, build it in memory (with a warning) unless a save is required."""
        jobs = self.settings.index.jobs or default_jobs()
        corpus = self.settings.corpus.path
        stream = CorpusStream(corpus, known)
        try:
            if self.settings.cluster.enabled:
                from retrieval.cluster.build import build_on_cluster
                build_on_cluster(fresh, index_dir, stream, self.settings.cluster,
                                 progress=self._progress)
            else:
                build(fresh, index_dir, stream, jobs=jobs, progress=self._progress)
            return TfidfIndex.load(index_dir)
        except OSError as exc:
            message = f"could not save the index to {index_dir} ({exc.strerror or exc})"
            if self._save_required or self.settings.cluster.enabled:
                raise IndexLocationError(message + (
                    ": the cluster's shards read it from there"
                    if self.settings.cluster.enabled else "")) from None
            log.warning("%s; answering from memory", message)
        stream = CorpusStream(corpus, known)
        index = fresh.fit(stream, n_jobs=jobs, progress=self._progress)
        index.fingerprint_ = stream.fingerprint
        index.corpus_files_ = tuple(asdict(f) for f in stream.files)
        return index


def served_shards(settings: Settings) -> int:
    """The shards the index is served as: ``cluster.shards`` with the cluster, else one. A
    merge of the index's segments leaves at least this many."""
    return settings.cluster.shards if settings.cluster.enabled else 1


def _staleness(fresh: TfidfIndex, fingerprint: str | None, manifest: dict[str, Any] | None,
               index_dir: Path, shards: int = 1) -> str | None:
    """Why the saved index (its ``manifest``) cannot serve the corpus whose content has
    ``fingerprint`` (None: not compared) with ``fresh``'s parameters, or as ``shards`` shards
    (one segment at least each; a corpus of fewer articles makes fewer shards), or None."""
    if manifest is None:
        return f"no index at {index_dir}"
    if fingerprint is not None and manifest.get("fingerprint") != fingerprint:
        return "the corpus changed"
    expected = fresh.manifest_params()
    if {k: manifest.get(k) for k in expected} != expected:
        return "the retrieval settings changed"
    segments = manifest.get("segments")
    articles = manifest.get("articles")
    if isinstance(articles, int):
        shards = min(shards, articles)  # a segment holds one article at least
    if isinstance(segments, list) and len(segments) < shards:
        return f"{len(segments)} segment(s) cannot make {shards} shards of the cluster"
    return None


def _commit_stamp(index_dir: Path) -> tuple[int, int] | None:
    """(modification time, inode) of the index's commit point, or None without one: a new
    commit replaces the file, so either changes."""
    try:
        info = os.stat(index_dir / POINTER)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_ino


def record_change(settings: Settings, added: Sequence[Article] = (),
                  removed: Sequence[str] = (), files: Collection[str] = ()) -> str | None:
    """Record a change of the corpus in its saved index as new commits: the ``added``
    articles as a new segment, the ``removed`` ids as tombstones, in time proportional to
    the change (segments pile up until they are merged). ``files`` are the names of the
    corpus files the change wrote or removed; every other file must be as the index
    recorded it. Returns None when done, else why it was not (no saved index, other
    settings, the corpus changed in other files too, a damaged index): then a reload
    rebuilds the index."""
    index_dir = settings.index_dir
    check_location(index_dir)
    try:
        manifest = TfidfIndex.read_manifest(index_dir)
    except IndexFormatError as exc:
        return str(exc)
    params = settings.retrieval.index()
    reason = _staleness(params, None, manifest, index_dir)
    if reason is not None:
        return reason
    recorded = {f.get("name"): f for f in (manifest or {}).get("corpus_files") or ()
                if isinstance(f, dict)}
    now, fingerprint = scan_corpus(settings.corpus.path, known=recorded.values())
    current = {f.name: f.blake2b for f in now}
    others = (set(recorded) | set(current)) - set(files)
    changed = sorted(n for n in others if (recorded.get(n) or {}).get("blake2b") != current.get(n))
    if changed:
        return f"the corpus changed in other files too ({', '.join(changed[:3])})"
    corpus_files = [asdict(f) for f in now]
    try:
        if removed:
            delete_articles(params, index_dir, removed, corpus_files=corpus_files,
                            fingerprint=fingerprint, min_segments=served_shards(settings))
        if added:
            add_articles(params, index_dir, added, corpus_files=corpus_files,
                         fingerprint=fingerprint, min_segments=served_shards(settings))
    except (IndexFormatError, KeyError, ValueError) as exc:
        return f"the index could not record the change ({exc})"
    return None
