"""The index directory: the bot replaces or deletes only what it can prove is its own index,
saves atomically (generations and a commit pointer), cleans what killed saves left, and says
so when it cannot save."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.corpus import load_corpus
from retrieval import storage
from retrieval.index import TfidfIndex

from tests.conftest import ROOT

QUESTION = "What is the Dima Yakovlev Law?"
ARTICLE = ("The ambassador presented his credentials to the president on Tuesday morning. "
           "The penguins of the southern colony welcomed a new keeper in the spring.")


def _ids(corpus: Path) -> str:
    return load_corpus(corpus).fingerprint


def _corpus(tmp_path: Path, name: str, text: str = ARTICLE) -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text(json.dumps({"id": name, "title": f"About {name}", "source": "Daily",
                                "text": text}) + "\n", encoding="utf-8")
    return path


def _only_index_entries(index_dir: Path) -> None:
    """What a finished save leaves: the marker, the lock, the pointer, one generation and
    the segments it lists."""
    names = sorted(p.name for p in index_dir.iterdir())
    generations = [n for n in names if n.startswith("gen-")]
    assert len(generations) == 1, names
    manifest = json.loads((index_dir / generations[0] / "manifest.json").read_text())
    segments = [s["name"] for s in manifest["segments"]]
    assert segments and all((index_dir / s).is_dir() for s in segments), names
    assert sorted(set(names) - set(generations) - set(segments)) == [
        "CURRENT", "QABOT-INDEX", "lock"], names


# --------------------------------------------------------------------------- item 1: not ours
def test_ask_with_an_index_dir_holding_other_files_touches_nothing(tmp_path, capsys):
    notes = tmp_path / "mynotes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("years of work")
    code = main(["ask", QUESTION, "--index-dir", str(notes)])
    err = capsys.readouterr().err
    assert code == 1
    assert str(notes) in err and len(err.strip().splitlines()) == 1
    assert [p.name for p in notes.iterdir()] == ["thesis.txt"]
    assert (notes / "thesis.txt").read_text() == "years of work"


def test_index_into_the_corpus_directory_keeps_the_articles(tmp_path, capsys):
    corpus = tmp_path / "mycorpus"
    shutil.copytree(ROOT / "corpus", corpus)
    before = sorted(p.name for p in corpus.iterdir())
    code = main(["index", "--corpus", str(corpus), "--index-dir", str(corpus)])
    assert code == 1
    assert "not a qabot index" in capsys.readouterr().err
    assert sorted(p.name for p in corpus.iterdir()) == before


def test_an_index_path_that_is_a_file_is_left_alone(tmp_path, capsys):
    target = tmp_path / "index"
    target.write_text("keep me")
    code = main(["index", "--index-dir", str(target)])
    assert code == 1
    assert str(target) in capsys.readouterr().err
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index"]


def test_a_symlinked_index_dir_is_followed_not_replaced(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    corpus = _corpus(tmp_path, "a")
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(link)]) == 0
    assert main(["index", "--force", "--corpus", str(corpus), "--index-dir", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == real.resolve()
    _only_index_entries(real)
    assert TfidfIndex.load(link).fingerprint_ == _ids(corpus)


def test_an_empty_directory_is_adopted_and_a_user_file_in_the_index_survives(tmp_path):
    index_dir = tmp_path / "idx"
    index_dir.mkdir()
    corpus = _corpus(tmp_path, "a")
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(index_dir)]) == 0
    (index_dir / "README.txt").write_text("my note about this index")
    assert main(["index", "--force", "--corpus", str(corpus), "--index-dir", str(index_dir)]) == 0
    assert (index_dir / "README.txt").read_text() == "my note about this index"


# ------------------------------------------------------------------- item 2: atomic, reported
def test_index_exits_non_zero_when_it_cannot_save(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    corpus = _corpus(tmp_path, "a")
    code = main(["index", "--corpus", str(corpus), "--index-dir", str(blocker / "idx")])
    err = capsys.readouterr().err
    assert code == 1 and "could not save" in err and len(err.strip().splitlines()) == 1


def test_ask_that_cannot_save_warns_once_and_answers_from_memory(tmp_path, capsys, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = main(["ask", QUESTION, "--json", "--index-dir", str(blocker / "idx")])
    assert code == 0
    assert "Dima Yakovlev" in json.loads(capsys.readouterr().out)["answer"]["text"]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "could not save" in warnings[0]


def test_leftovers_of_killed_saves_are_cleaned_at_the_next_save(tmp_path):
    corpus = load_corpus(_corpus(tmp_path, "a"))
    index = TfidfIndex().fit(corpus.articles, fingerprint=corpus.fingerprint)
    target = tmp_path / "idx"
    index.save(target)
    (target / ".tmp-123-456").mkdir()
    (target / ".tmp-123-456" / "idf.npy").write_bytes(b"half")
    (target / "gen-000000").mkdir()
    (target / "seg-000000").mkdir()   # a segment of a killed build, never committed
    (target / "CURRENT.tmp-99").write_text("{")
    index.save(target)
    _only_index_entries(target)


def test_concurrent_saves_and_readers_always_see_a_whole_index(tmp_path):
    corpus = load_corpus(_corpus(tmp_path, "a"))
    index = TfidfIndex().fit(corpus.articles, fingerprint=corpus.fingerprint)
    target = tmp_path / "idx"
    index.save(target)
    errors: list[BaseException] = []
    stop = threading.Event()

    def save() -> None:
        try:
            for _ in range(8):
                index.save(target)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read() -> None:
        while not stop.is_set():
            try:
                assert TfidfIndex.load(target).n_sentences == index.n_sentences
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    savers = [threading.Thread(target=save) for _ in range(2)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in savers:
        t.start()
    for t in savers:
        t.join()
    stop.set()
    reader.join()
    assert not errors, errors[0]
    _only_index_entries(target)


def test_a_reader_outpaced_by_several_saves_reads_the_newest(tmp_path, monkeypatch):
    # Two saves land while one reader opens the index (each removing the commit before it):
    # the reader must read the newest commit, not call the index damaged (which made a
    # service rebuild it). Deterministic form of the concurrent test above.
    import retrieval.index.commit as commit_module
    corpus = load_corpus(_corpus(tmp_path, "a"))
    index = TfidfIndex().fit(corpus.articles, fingerprint=corpus.fingerprint)
    target = tmp_path / "idx"
    index.save(target)
    opened = commit_module.open_segment
    saves_left = [2]

    def open_segment_while_saving(root, name, params):
        if saves_left[0]:
            saves_left[0] -= 1
            index.save(target)          # a newer commit lands; this one's files go
        return opened(root, name, params)
    monkeypatch.setattr(commit_module, "open_segment", open_segment_while_saving)
    loaded = TfidfIndex.load(target)
    assert saves_left == [0] and loaded.n_sentences == index.n_sentences
    assert loaded.commit_.generation == storage.current_generation(target)


# ----------------------------------------------------------------------- fault injection
_DRIVER = """
import os, signal, sys, importlib
target, when, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
from bot.cli import main
module_name, _, attr = target.rpartition(".")
module = importlib.import_module(module_name)
original = getattr(module, attr)
calls = 0
def wrapper(*args, **kwargs):
    global calls
    calls += 1
    if calls == nth and when == "before":
        os.kill(os.getpid(), signal.SIGKILL)
    result = original(*args, **kwargs)
    if calls == nth and when == "after":
        os.kill(os.getpid(), signal.SIGKILL)
    return result
setattr(module, attr, wrapper)
sys.exit(main(sys.argv[4:]))
"""

# Every stage of a save: files written (each ends with an fsync), the finished segment
# renamed into place, then the finished generation, the commit pointer replaced, the old
# generation and segment removed.
_KILL_POINTS = [
    ("os.fsync", "after", 1),          # write: the first array on disk
    ("os.fsync", "before", 6),         # write: mid-way through the arrays
    ("os.rename", "before", 1),        # segment complete, not yet renamed
    ("os.rename", "after", 1),         # segment in place, no generation lists it
    ("os.rename", "before", 2),        # swap: generation complete, not yet renamed
    ("os.rename", "after", 2),         # swap: generation in place, pointer not yet written
    ("os.replace", "before", 1),       # pointer: its temporary written, not yet replaced
    ("os.replace", "after", 1),        # pointer: replaced, cleanup not yet done
    ("shutil.rmtree", "before", 1),    # cleanup: the old generation still there
    ("os.unlink", "after", 2),         # cleanup: the old generation half removed
]


@pytest.fixture(scope="module")
def previous_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("fault")
    old, new = _corpus(root, "old"), _corpus(root, "new", ARTICLE.replace("penguins", "walruses"))
    template = root / "template"
    assert main(["index", "--corpus", str(old), "--index-dir", str(template)]) == 0
    return template, old, new


@pytest.mark.parametrize(("target", "when", "nth"), _KILL_POINTS)
def test_a_save_killed_at_any_stage_leaves_a_loadable_index(previous_index, tmp_path,
                                                            target, when, nth):
    template, old, new = previous_index
    index_dir = tmp_path / "idx"
    shutil.copytree(template, index_dir)
    done = subprocess.run([sys.executable, "-c", _DRIVER, target, when, str(nth), "index",
                           "--force", "--corpus", str(new), "--index-dir", str(index_dir)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr  # killed at that point, not finished
    assert TfidfIndex.load(index_dir).fingerprint_ in {_ids(old), _ids(new)}
    assert main(["index", "--corpus", str(new), "--index-dir", str(index_dir)]) == 0
    assert TfidfIndex.load(index_dir).fingerprint_ == _ids(new)
    assert main(["index", "--force", "--corpus", str(new), "--index-dir", str(index_dir)]) == 0
    _only_index_entries(index_dir)


def test_an_index_of_an_older_qabot_is_named_and_left_alone(tmp_path, capsys):
    old = tmp_path / "old-index"
    old.mkdir()
    (old / "manifest.json").write_text('{"format_version": 4}')
    (old / "idf.npy").write_bytes(b"old")
    assert main(["ask", QUESTION, "--index-dir", str(old)]) == 1
    assert "older qabot" in capsys.readouterr().err
    assert sorted(p.name for p in old.iterdir()) == ["idf.npy", "manifest.json"]


def test_remove_index_removes_only_what_saves_made(tmp_path: Path):
    from retrieval.storage import remove_index
    corpus = _corpus(tmp_path, "a")
    made, adopted, foreign = tmp_path / "made", tmp_path / "adopted", tmp_path / "foreign"
    adopted.mkdir()
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    for index_dir in (made, adopted):
        assert main(["index", "--corpus", str(corpus), "--index-dir", str(index_dir)]) == 0
    shared = tmp_path / "shared"
    assert main(["index", "--corpus", str(corpus), "--index-dir", str(shared)]) == 0
    (shared / "thesis.txt").write_text("mine")
    assert remove_index(made) and not made.exists()             # it made the directory
    assert remove_index(adopted) and adopted.is_dir()           # the user's: emptied, kept
    assert list(adopted.iterdir()) == []
    assert remove_index(shared) and [p.name for p in shared.iterdir()] == ["thesis.txt"]
    assert not remove_index(foreign) and (foreign / "thesis.txt").read_text() == "mine"
    assert not remove_index(tmp_path / "nothing-here")


def test_the_first_saves_into_a_new_directory_race_without_refusing_each_other(tmp_path: Path):
    """Two commands that start together on a corpus with no index yet (the REPL and the
    Discord bot, two `qabot index`) both build and save; the one that adopts the directory a
    moment later saw the other's marker being written and refused the directory as 'not a
    qabot index'."""
    corpus = load_corpus(_corpus(tmp_path, "a"))
    index = TfidfIndex().fit(corpus.articles, fingerprint=corpus.fingerprint)
    errors: list[BaseException] = []
    for trial in range(12):
        target = tmp_path / f"idx-{trial}"
        barrier = threading.Barrier(3)

        def save() -> None:
            barrier.wait()
            try:
                index.save(target)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        savers = [threading.Thread(target=save) for _ in range(3)]
        for t in savers:
            t.start()
        for t in savers:
            t.join()
        assert TfidfIndex.load(target).n_sentences == index.n_sentences
    assert not errors, errors[0]


def test_a_directory_holding_only_a_marker_being_written_is_ours(tmp_path: Path):
    """What a concurrent first save leaves for a moment: the marker's temporary file."""
    target = tmp_path / "idx"
    target.mkdir()
    (target / "QABOT-INDEX.tmp-4242-123456").write_text("{")
    assert main(["index", "--corpus", str(_corpus(tmp_path, "a")), "--index-dir", str(target)]) == 0
    assert TfidfIndex.load(target).n_sentences == 2


def test_a_marker_that_appears_while_the_directory_is_looked_at_is_ours(tmp_path: Path,
                                                                         monkeypatch):
    """The window of the race above, made certain: the first look finds no marker, and by the
    time the entries are listed another save has written its marker and its lock."""
    from retrieval import storage
    target = tmp_path / "idx"
    target.mkdir()
    (target / storage.MARKER).write_text(json.dumps({"kind": "qabot-index", "layout": 1}))
    (target / storage.LOCK).write_bytes(b"")
    real = storage.is_index_dir
    calls: list[Path] = []

    def first_look_finds_no_marker(path: Path) -> bool:
        calls.append(path)
        return len(calls) > 1 and real(path)

    monkeypatch.setattr(storage, "is_index_dir", first_look_finds_no_marker)
    storage.check_location(target)  # no IndexLocationError
