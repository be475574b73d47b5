"""Shared fixtures: settings whose index lives in a temporary directory, a service over the
bundled corpus, and helpers to write small corpora."""
from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from benchmarks.data import SQUAD_DEV
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings

if TYPE_CHECKING:
    from tests.ingest_server import NewsServer

ROOT = Path(__file__).resolve().parent.parent
# The SQuAD v1.1 dev set lives in the shared folder beside the repository (not in a clone
# elsewhere): the tests that read it are skipped without it.
needs_squad = pytest.mark.skipif(not SQUAD_DEV.exists(),
                                 reason=f"SQuAD v1.1 dev set not found at {SQUAD_DEV} (it lives "
                                        "in the shared folder beside the repository)")
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.json"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The default per-corpus index directories go to a temporary cache, never the user's."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Default settings, with the index in a temporary directory and no user overrides."""
    index_dir = tmp_path_factory.mktemp("index") / "index"
    return load_settings(environ={}).with_overrides(**{"index.dir": str(index_dir),
                                                       "repl.history_file": None})


@pytest.fixture(scope="session")
def service(settings: Settings) -> QAService:
    return QAService(settings)


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[[Iterable[dict], str], Path]:
    """Write records as a JSON Lines corpus and return its path."""
    def write(records: Iterable[dict], name: str = "corpus.jsonl") -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                        encoding="utf-8")
        return path
    return write


@pytest.fixture
def settings_for(settings: Settings, tmp_path: Path) -> Callable[..., Settings]:
    """Settings over another corpus, with a fresh index directory."""
    def make(corpus: Path, **overrides: object) -> Settings:
        return settings.with_overrides(**{"corpus.path": str(corpus),
                                          "index.dir": str(tmp_path / "idx"), **overrides})
    return make


def generation(index_dir: Path) -> Path:
    """The directory of the current generation of a saved index (where its files are)."""
    return index_dir / json.loads((index_dir / "CURRENT").read_text())["commit"]


@pytest.fixture(scope="module")
def news_site() -> Iterator["NewsServer"]:
    """The local news web server of the ingestion tests (tests/ingest_server.py)."""
    from tests.ingest_server import news_server
    with news_server() as running:
        yield running


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A copy of the bundled corpus, to add articles to."""
    return Path(shutil.copytree(ROOT / "corpus", tmp_path / "corpus"))


def segment(index_dir: Path) -> Path:
    """The directory of the (first) segment the current generation lists."""
    manifest = json.loads((generation(index_dir) / "manifest.json").read_text())
    return index_dir / manifest["segments"][0]["name"]


@pytest.fixture(scope="session")
def local_ray() -> Iterator[object]:
    """A local Ray (2 CPUs, 127.0.0.1, no dashboard, no usage statistics), started once for
    the session by the first test that needs it and shut down at its end. Tests of the
    cluster backend skip when Ray (the ``cluster`` extra) is not installed."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_USAGE_STATS_ENABLED", "0")
        patch.delenv("RAY_ADDRESS", raising=False)
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                 log_to_driver=False, configure_logging=False)
        try:
            yield ray
        finally:
            ray.shutdown()
