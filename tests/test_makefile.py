"""`make clean` removes what the project made (its venv, caches, the bundled corpus's index)
and nothing else."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _copy_of_the_project(target: Path) -> Path:
    tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                             check=True).stdout.decode().split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_make_clean_removes_what_the_project_made_and_nothing_else(tmp_path: Path):
    repo = _copy_of_the_project(tmp_path / "repo")
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QABOT_", "MAKE"))}
    env["XDG_CACHE_HOME"] = str(cache)
    made = [".venv/bin/python", ".pytest_cache/v/x", "retrieval/__pycache__/x.pyc",
            "tests/__pycache__/x.pyc", "qabot.egg-info/PKG-INFO",
            "benchmarks/results/work/corpus-1000.jsonl"]
    theirs = [".qabot/mine.txt", "notes.txt", "benchmarks/results/quality.json",
              "config/mine.toml"]
    for name in made + theirs:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x")
    # the index of the copy's bundled corpus, and another corpus's index beside it
    built = subprocess.run([sys.executable, "-m", "bot", "index"], cwd=repo, env=env,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    [index_dir] = (cache / "qabot").iterdir()
    assert str(index_dir) in built.stdout and (index_dir / "CURRENT").is_file()
    other = cache / "qabot" / "other-0123456789abcdef"
    other.mkdir()
    (other / "QABOT-INDEX").write_text('{"kind": "qabot-index", "layout": 1, "created": true}')

    done = subprocess.run(["make", "-C", str(repo), "clean", f"BIN={Path(sys.executable).parent}"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for name in made:
        assert not (repo / name).exists(), name
    assert not (repo / ".venv").exists() and not (repo / "retrieval/__pycache__").exists()
    assert not index_dir.exists()
    for name in theirs:
        assert (repo / name).read_text() == "x", name
    assert (other / "QABOT-INDEX").is_file()
    assert (repo / "corpus").is_dir() and (repo / "Makefile").is_file()
