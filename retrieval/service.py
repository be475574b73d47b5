"""The question-answering service: owns the corpus, the index and the answerer.

It loads the saved index when it matches the corpus (same content fingerprint, same
parameters), rebuilds and saves it otherwise, answers questions, and swaps in a rebuilt
index atomically on ``reload``: a question asked meanwhile is answered from the old one.
With ``cluster.enabled`` the first stage of every question runs on the shards of a Ray
cluster (``retrieval.cluster``), started from the saved index and swapped with it.
Adapters (CLI, REPL, Discord) hold only a ``QAService``."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from retrieval.answerer import Answerer, Filters, Result
from retrieval.conversation import Conversation
from retrieval.corpus import Article, Corpus, load_corpus
from retrieval.errors import IndexFormatError, IndexLocationError, IndexUnavailableError
from retrieval.index import TfidfIndex
from retrieval.settings import Settings
from retrieval.storage import check_location

log = logging.getLogger(__name__)


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
    corpus: Corpus
    index: TfidfIndex
    answerer: Answerer


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
        self._state, self.last_load = self._load(force_rebuild=rebuild)

    # ------------------------------------------------------------------------------ asking
    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            conversation: Conversation | None = None) -> Result:
        """Answer one question (inside ``conversation`` when given: its ``Result.turn`` is
        what to add to it). Raises ``QuestionError`` for an empty or oversized one.

        When the index turns out not to match the articles (a quoted span is not the sentence
        that was indexed), it is rebuilt and the question asked again, or, without
        ``index.auto_rebuild``, ``IndexFormatError`` is raised."""
        state = self._state
        try:
            return state.answerer.ask(question, top_k, filters, conversation)
        except IndexUnavailableError as exc:    # a shard of the cluster is down: say so
            log.warning("%s", exc)
            return Result(question, None, (), str(exc))
        except IndexFormatError as exc:
            if not self.settings.index.auto_rebuild:
                raise
            if self._state is state:  # not rebuilt meanwhile for another question
                log.warning("%s; rebuilding it", exc)
                self.reload(force_rebuild=True)
            return self._state.answerer.ask(question, top_k, filters, conversation)

    @property
    def articles(self) -> tuple[Article, ...]:
        """The articles of the corpus, in corpus order."""
        return self._state.corpus.articles

    def sources(self) -> list[str]:
        """The distinct source outlets of the corpus, sorted."""
        return sorted({a.source for a in self._state.corpus.articles}, key=str.casefold)

    # ------------------------------------------------------------------------- (re)loading
    def reload(self, *, force_rebuild: bool = False) -> LoadReport:
        """Re-read the corpus and rebuild the index if it changed (or when forced), then swap
        it in. Questions asked during a reload are answered from the previous state."""
        with self._reload_lock:
            state, report = self._load(force_rebuild=force_rebuild)
            self._state, self.last_load = state, report
            return report

    def _load(self, *, force_rebuild: bool) -> tuple[_State, LoadReport]:
        started = time.perf_counter()
        settings = self.settings
        index_dir = settings.index_dir
        check_location(index_dir)  # not ours: stop before reading or building anything
        manifest = None if force_rebuild else TfidfIndex.read_manifest(index_dir)
        stamps = manifest.get("corpus_files") if manifest else None  # a hint: saves hashing
        corpus = load_corpus(settings.corpus.path,
                             known=stamps if isinstance(stamps, list) else ())
        fresh = settings.retrieval.index()
        reason = "forced rebuild" if force_rebuild else _staleness(fresh, corpus, manifest,
                                                                   index_dir)
        index: TfidfIndex | None = None
        if reason is None:
            try:
                index, reason = TfidfIndex.load(index_dir), "index up to date"
                if not index.matches(corpus.articles):
                    raise IndexFormatError(f"index at {index_dir} does not match the articles "
                                           "of the corpus")
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
            index = fresh.fit(corpus.articles, fingerprint=corpus.fingerprint,
                              corpus_files=[asdict(f) for f in corpus.files],
                              progress=self._progress)
            try:
                index.save(index_dir)
            except OSError as exc:
                message = f"could not save the index to {index_dir} ({exc.strerror or exc})"
                if self._save_required or settings.cluster.enabled:
                    raise IndexLocationError(message + (
                        ": the cluster's shards read it from there"
                        if settings.cluster.enabled else "")) from None
                log.warning("%s; answering from memory", message)
        first_stage = None
        if settings.cluster.enabled:
            from retrieval.cluster.coordinator import Cluster
            cluster = Cluster(index, index_dir, settings.cluster)
            cluster.wait_ready()
            first_stage = cluster
        state = _State(corpus, index, Answerer(index, corpus.articles, settings.answer,
                                                 conversation=settings.conversation,
                                                 first_stage=first_stage))
        report = LoadReport(len(corpus), index.n_passages, index.n_sentences, rebuilt, reason,
                            round(time.perf_counter() - started, 3), index_dir)
        return state, report


def _staleness(fresh: TfidfIndex, corpus: Corpus, manifest: dict[str, Any] | None,
               index_dir: Path) -> str | None:
    """Why the saved index (its ``manifest``) cannot serve ``corpus`` with ``fresh``'s
    parameters, or None."""
    if manifest is None:
        return f"no index at {index_dir}"
    if manifest.get("fingerprint") != corpus.fingerprint:
        return "the corpus changed"
    expected = fresh.manifest_params()
    if {k: manifest.get(k) for k in expected} != expected:
        return "the retrieval settings changed"
    return None
