"""A damaged index is noticed, never used silently: checksums and value checks on load, the
quoted span checked against the sentence indexed, and a rebuild (or one line) as
``index.auto_rebuild`` says."""
from __future__ import annotations

import io
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from retrieval.errors import IndexFormatError
from retrieval.index import TfidfIndex
from retrieval.service import QAService

from tests.conftest import ROOT

QUESTION = "What is the Dima Yakovlev Law?"
ANSWER_START = "Later, President Putin signed into force the ‘Dima Yakovlev Law,’"


def _files(index_dir: Path) -> Path:
    """Where the commit's own files are (the current generation)."""
    return index_dir / json.loads((index_dir / "CURRENT").read_text())["commit"]


def _directories(index_dir: Path) -> list[Path]:
    """The current generation, then the segments it lists."""
    manifest = json.loads((_files(index_dir) / "manifest.json").read_text())
    return [_files(index_dir)] + [index_dir / s["name"] for s in manifest["segments"]]


def _holder(index_dir: Path, name: str) -> Path:
    """The directory (the generation's or a segment's) holding file ``name``."""
    return next(d for d in _directories(index_dir) if (d / name).is_file())


def _largest(index_dir: Path, prefix: str) -> Path:
    """The largest file of the index whose name starts with ``prefix``."""
    return max((p for d in _directories(index_dir) for p in d.glob(f"{prefix}*")),
               key=lambda p: p.stat().st_size)


def _rewrite(index_dir: Path, name: str, data: bytes) -> None:
    """Replace one file of the index by a valid one, updating the manifest's size and
    checksum: damage that keeps a valid format and a consistent manifest."""
    files = _holder(index_dir, name)
    (files / name).write_bytes(data)
    manifest = json.loads((files / "manifest.json").read_text())
    if "files" in manifest:
        manifest["files"][name] = {"bytes": len(data), "crc32": zlib.crc32(data)}
        (files / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_array(index_dir: Path, name: str, change) -> None:
    array = np.load(_holder(index_dir, f"{name}.npy") / f"{name}.npy")
    buffer = io.BytesIO()
    np.save(buffer, change(array))
    _rewrite(index_dir, f"{name}.npy", buffer.getvalue())


@pytest.fixture
def built(settings_for, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_for(corpus)
    QAService(settings)
    return settings


def _cli(settings, *args: str) -> list[str]:
    return [*args, "--corpus", str(settings.corpus.path), "--index-dir", str(settings.index.dir)]


def test_a_truncated_matrix_is_rebuilt_by_ask_with_one_notice(built, capsys, caplog):
    path = _largest(built.index.dir, "sentence_terms")
    path.write_bytes(path.read_bytes()[:1000])
    code = main(_cli(built, "ask", QUESTION, "--json"))
    assert code == 0
    assert json.loads(capsys.readouterr().out)["answer"]["text"].startswith(ANSWER_START)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "damaged" in warnings[0] and "rebuilding" in warnings[0]


def test_index_without_force_rebuilds_a_bit_flipped_index(built, capsys):
    path = _largest(built.index.dir, "passage_ids")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))
    assert main(_cli(built, "index")) == 0
    assert "index built" in capsys.readouterr().out
    assert TfidfIndex.load(built.index.dir).n_sentences > 0


def test_without_auto_rebuild_a_damaged_index_stops_with_one_line(built, capsys):
    path = _files(built.index.dir) / "df.npy"
    path.write_bytes(path.read_bytes()[:-8])
    settings = built.with_overrides(**{"index.auto_rebuild": False})
    with pytest.raises(IndexFormatError, match="damaged"):
        QAService(settings)


@pytest.mark.parametrize(("name", "change", "problem"), [
    ("df", lambda a: np.where(np.arange(a.size) == 3, 0, a).astype(a.dtype), "df"),
    ("sentence_start", lambda a: np.roll(a, 1), "spans"),
    ("sentence_article", lambda a: a + 5, "article"),
    ("passage_first_sentence", lambda a: a[::-1].copy(), "disagree"),
    ("passage_length", lambda a: a + 1, "lengths"),
    ("sentence_terms", lambda a: a[::-1].copy(), "order"),
])
def test_valid_format_damage_is_found_on_load(built, name, change, problem):
    _rewrite_array(built.index.dir, name, change)
    with pytest.raises(IndexFormatError, match=problem):
        TfidfIndex.load(built.index.dir)


def test_a_shuffled_vocabulary_is_found_on_load(built):
    vocabulary = json.loads((_files(built.index.dir) / "vocabulary.json").read_text())
    shuffled = vocabulary[1:] + vocabulary[:1]
    _rewrite(built.index.dir, "vocabulary.json", json.dumps(shuffled).encode())
    with pytest.raises(IndexFormatError, match="vocabulary"):
        TfidfIndex.load(built.index.dir)


def test_a_quote_that_is_not_the_indexed_sentence_is_never_shown(built, caplog):
    # Every sentence start shifted by one character: in range, in order, a valid file, and
    # the quote would start mid-word while claiming to be verbatim.
    _rewrite_array(built.index.dir, "sentence_start", lambda a: a + 1)
    answer = QAService(built).ask(QUESTION).answer
    assert answer is not None and answer.text.startswith(ANSWER_START)
    assert any("rebuilding" in r.getMessage() for r in caplog.records)


def test_a_quote_check_without_auto_rebuild_stops_with_one_line(built, capsys):
    _rewrite_array(built.index.dir, "sentence_start", lambda a: a + 1)
    code = main(_cli(built, "ask", QUESTION) + ["--config", str(_no_rebuild(built))])
    err = capsys.readouterr().err
    assert code == 1 and "does not match the articles" in err
    assert len(err.strip().splitlines()) == 1


def _no_rebuild(settings) -> Path:
    path = Path(settings.index.dir).parent / "no-rebuild.toml"
    path.write_text("[index]\nauto_rebuild = false\n")
    return path


@pytest.mark.parametrize("corpus_files", [None, 5, "x", {"name": "a"}, [5, None]])
def test_a_manifest_whose_corpus_stamps_are_damaged_hashes_the_corpus_again(
        built, capsys, corpus_files):
    """The corpus files' stamps are only a hint that saves hashing: damaged, they are ignored
    (the old code stopped with an internal error on a null or a number)."""
    manifest_path = _files(built.index.dir) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["corpus_files"] = corpus_files
    manifest_path.write_text(json.dumps(manifest))
    assert main(_cli(built, "ask", QUESTION, "--json")) == 0
    assert json.loads(capsys.readouterr().out)["answer"]["text"].startswith(ANSWER_START)
