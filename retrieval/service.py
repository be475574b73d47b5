"""The question-answering service: owns the corpus, the index and the answerer.

It loads the saved index when it matches the corpus (same content fingerprint, same
parameters), rebuilds and saves it otherwise, answers questions, and swaps in a rebuilt
index atomically on ``reload``: a question asked meanwhile is answered from the old one.
Adapters (CLI, REPL, Discord) hold only a ``QAService``."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.answerer import Answerer, Filters, Result
from retrieval.conversation import Conversation
from retrieval.corpus import Article, Corpus, load_corpus
from retrieval.errors import IndexFormatError
from retrieval.index import TfidfIndex
from retrieval.settings import Settings

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


@dataclass(frozen=True)
class _State:
    corpus: Corpus
    index: TfidfIndex
    answerer: Answerer


class QAService:
    """Loads or builds the index for the configured corpus and answers questions."""

    def __init__(self, settings: Settings, *, progress: bool = False,
                 rebuild: bool = False) -> None:
        """Load the corpus and its index (building it when needed, or always with
        ``rebuild``). Shows a progress bar while building when ``progress``."""
        self.settings = settings
        self._progress = progress
        self._reload_lock = threading.Lock()
        self._state, self.last_load = self._load(force_rebuild=rebuild)

    # ------------------------------------------------------------------------------ asking
    def ask(self, question: str, top_k: int | None = None, filters: Filters | None = None,
            conversation: Conversation | None = None) -> Result:
        """Answer one question (inside ``conversation`` when given: its ``Result.turn`` is
        what to add to it). Raises ``QuestionError`` for an empty or oversized one."""
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
        corpus = load_corpus(settings.corpus.path)
        fresh = settings.retrieval.index()
        index_dir = settings.index.dir
        reason = "forced rebuild" if force_rebuild else _staleness(fresh, corpus, index_dir)
        index: TfidfIndex | None = None
        if reason is None:
            try:
                index, reason = TfidfIndex.load(index_dir), "index up to date"
            except IndexFormatError as exc:
                reason = str(exc)
        elif not force_rebuild and not settings.index.auto_rebuild:
            raise IndexFormatError(f"the index at {index_dir} is out of date ({reason}); run "
                                   "`qabot index` or set index.auto_rebuild = true")
        rebuilt = index is None
        if index is None:
            log.info("building the index: %s", reason)
            index = fresh.fit(corpus.articles, fingerprint=corpus.fingerprint,
                              progress=self._progress)
            try:
                index.save(index_dir)
            except OSError as exc:
                log.warning("could not save the index to %s (%s); using it from memory",
                            index_dir, exc.strerror or exc)
        state = _State(corpus, index, Answerer(index, corpus.articles, settings.answer,
                                                 settings.conversation))
        report = LoadReport(len(corpus), index.n_passages, index.n_sentences, rebuilt, reason,
                            round(time.perf_counter() - started, 3))
        return state, report


def _staleness(fresh: TfidfIndex, corpus: Corpus, index_dir: Path) -> str | None:
    """Why the saved index cannot serve ``corpus`` with ``fresh``'s parameters, or None."""
    manifest = TfidfIndex.read_manifest(index_dir)
    if manifest is None:
        return f"no index at {index_dir}"
    if manifest.get("fingerprint") != corpus.fingerprint:
        return "the corpus changed"
    expected = fresh.manifest_params()
    if {k: manifest.get(k) for k in expected} != expected:
        return "the retrieval settings changed"
    return None
