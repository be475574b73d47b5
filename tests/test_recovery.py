"""Every fault recoverable (issue 22): empty corpora, killed builds and adds, stalled
servers, damaged segments and hostile text give a rebuild or one line, never a stuck
process or an internal error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import ROOT


@pytest.mark.parametrize("content", ["", "\n  \n\t\n"], ids=["empty", "blank"])
def test_empty_jsonl_corpus_loads_with_a_warning(content, tmp_path: Path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(content, encoding="utf-8")
    common = ["--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")]
    for _ in range(2):   # built, then opened as saved
        assert main(["ask", "Who won?", *common]) == 0
        out, err = capsys.readouterr()
        assert "No answer" in out and "internal error" not in err
    assert main(["sources", "--json", *common]) == 0
    assert capsys.readouterr().out == ""
    assert main(["ask", "Who won?", "--json", *common]) == 0
    assert json.loads(capsys.readouterr().out)["answer"] is None


# ------------------------------------------------------------------ one deadline for a fetch
def _qabot(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m bot ARGS`` in a subprocess, the way a person runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, env=environment, timeout=timeout)


@pytest.mark.parametrize("path", ["/trickle-headers", "/trickle-body"])
def test_a_trickling_server_cannot_stretch_the_timeout(path: str, news_site, tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    started = time.monotonic()
    done = _qabot("add", news_site.base + path, "--corpus", str(corpus),
                  "--index-dir", str(tmp_path / "idx"),
                  env={"QABOT_INGEST__TIMEOUT_SECONDS": "2"})
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"qabot add: {news_site.base}{path}: no answer from 127.0.0.1 within 2 s (timeout)"]
    assert elapsed < 12, f"stopped after {elapsed:.1f} s"   # 2 s and the start; not 100 s
    assert not any(corpus.iterdir())


def test_a_failed_redirect_names_the_host_that_failed(news_site):
    import socket

    from retrieval.ingest.fetch import fetch, new_client
    from retrieval.ingest.records import IngestError
    from retrieval.settings import IngestSettings
    with socket.socket() as free:             # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    limits = IngestSettings(timeout_seconds=5)
    with new_client(limits) as client, pytest.raises(IngestError) as failed:
        fetch(f"{news_site.base}/redirect-to/{port}", client, limits)
    assert str(failed.value) == "could not connect to localhost"
