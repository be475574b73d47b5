"""The service's index lifecycle: build once, load after, rebuild when the corpus or the
settings change, reload swaps in the new corpus."""
from __future__ import annotations

import shutil
import threading

from retrieval.service import QAService

from tests.conftest import ROOT, generation


def test_builds_then_loads(settings_for, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    first = QAService(settings_for(corpus))
    assert first.last_load.rebuilt
    second = QAService(settings_for(corpus))
    assert not second.last_load.rebuilt and second.last_load.reason == "index up to date"


def test_rebuilds_when_the_corpus_changes(write_jsonl, settings_for):
    path = write_jsonl([{"id": "a", "title": "T", "source": "S",
                         "text": "The ambassador presented his credentials on Tuesday morning."}])
    service = QAService(settings_for(path))
    assert service.ask("Who is the new ambassador for the penguins?").answer is None
    write_jsonl([{"id": "a", "title": "T", "source": "S",
                  "text": "The penguins welcomed a new ambassador from the Antarctic colony."}])
    report = service.reload()
    assert report.rebuilt and report.reason == "the corpus changed"
    assert service.ask("Who is the new ambassador for the penguins?").answer is not None
    assert not QAService(settings_for(path)).last_load.rebuilt


def test_rebuilds_when_retrieval_settings_change(settings_for, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    QAService(settings_for(corpus))
    changed = QAService(settings_for(corpus, **{"retrieval.bigrams": True}))
    assert changed.last_load.rebuilt and changed.last_load.reason == "the retrieval settings changed"


def test_a_damaged_index_is_rebuilt(settings_for, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_for(corpus)
    QAService(settings)
    (generation(settings.index.dir) / "vocabulary.json").write_text("{")
    service = QAService(settings)
    assert service.last_load.rebuilt and "damaged" in service.last_load.reason
    assert service.ask("What is the Dima Yakovlev Law?").answer is not None


def test_questions_during_a_reload_are_answered(service):
    answers = []
    stop = threading.Event()

    def ask_repeatedly():
        while not stop.is_set():
            answers.append(service.ask("What is the Dima Yakovlev Law?").answer)

    worker = threading.Thread(target=ask_repeatedly)
    worker.start()
    try:
        service.reload(force_rebuild=True)
    finally:
        stop.set()
        worker.join()
    assert answers and all(a is not None and "Dima Yakovlev" in a.text for a in answers)


def test_staleness_is_decided_from_sizes_and_times_hashing_only_changed_files(
        settings_for, tmp_path, monkeypatch):
    import hashlib
    import os
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    for number, path in enumerate(sorted(corpus.iterdir())):
        os.utime(path, ns=(1_600_000_000_000_000_000 + number, 1_600_000_000_000_000_000 + number))
    settings = settings_for(corpus)
    QAService(settings)
    hashed: list[bytes] = []
    real = hashlib.blake2b

    class Spy:  # records what is hashed
        def __init__(self, data: bytes = b"", **kwargs):
            self._digest = real(**kwargs)
            self.update(data)

        def update(self, data: bytes) -> None:
            hashed.append(bytes(data))
            self._digest.update(data)

        def hexdigest(self) -> str:
            return self._digest.hexdigest()

        def digest(self) -> bytes:
            return self._digest.digest()

    monkeypatch.setattr(hashlib, "blake2b", Spy)
    contents = {p.name: p.read_bytes() for p in corpus.iterdir()}
    assert not QAService(settings).last_load.rebuilt
    assert not any(c in h for c in contents.values() for h in hashed)  # nothing re-hashed

    changed = sorted(corpus.iterdir())[2]
    changed.write_bytes(contents[changed.name].replace(b"Lavrov", b"Lawrow"))
    hashed.clear()
    report = QAService(settings).last_load
    assert report.rebuilt and report.reason == "the corpus changed"
    assert [name for name, c in contents.items() if any(c.replace(b"Lavrov", b"Lawrow") in h
                                                        or c in h for h in hashed)] == [changed.name]


def test_a_start_while_another_process_builds_waits_and_reads_its_index(settings, tmp_path,
                                                                        monkeypatch, caplog):
    # Two starts find no index (two `qabot ask` at once): the second waits for the first's
    # build and reads it, instead of building the whole index a second time.
    import retrieval.index.commit as commit_module
    from retrieval.corpus import CorpusStream
    from retrieval.index import build
    mine = settings.with_overrides(**{"index.dir": str(tmp_path / "index")})
    writing_segments = commit_module._write_segments
    started = threading.Event()

    def slow_write_segments(*args, **kwargs):      # the first build, holding the writer lock
        started.set()
        threading.Event().wait(1.0)
        return writing_segments(*args, **kwargs)
    monkeypatch.setattr(commit_module, "_write_segments", slow_write_segments)
    first = threading.Thread(target=build, args=(mine.retrieval.index(), mine.index_dir,
                                                 CorpusStream(mine.corpus.path)),
                             kwargs={"jobs": 1})
    first.start()
    assert started.wait(30)

    def second_build(*args, **kwargs):
        raise AssertionError("built a second time")
    monkeypatch.setattr(QAService, "_build", second_build)
    try:
        service = QAService(mine)
    finally:
        first.join()
    assert not service.last_load.rebuilt and service.last_load.reason == "index up to date"
    assert service.ask("What is the Dima Yakovlev Law?").answer is not None
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"another process is writing the index at {mine.index_dir}: waiting for it"]
