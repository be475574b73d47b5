"""Adding and removing articles is recorded in the index as new segments and tombstones
(issue 12, item 3), and gives the same answers as a full rebuild of the same corpus: 300
random SQuAD questions, asked of a service that was running when articles were added and
removed (by itself, and by another process it picks the change up from), and of a fresh
one."""
from __future__ import annotations

import random
from pathlib import Path


from benchmarks.data import SQUAD_DEV, load_squad, write_jsonl
from bot.render import result_to_dict
from retrieval.ingest.add import AddOptions, Ingester
from retrieval.ingest.records import Outcome
from retrieval.index import compact, read_commit
from retrieval.ingest.store import article_file_name, remove_articles
from retrieval.service import QAService, record_change
from retrieval.settings import Settings
from tests.conftest import needs_squad

BASE, ADDED, REMOVED, QUESTIONS = 300, 40, 15, 300


def add_all(settings: Settings, sources: list[str]) -> list[Outcome]:
    with Ingester(settings.corpus.path, settings.ingest, settings.retrieval.rules()) as ingester:
        return [item if isinstance(item, Outcome) else ingester.run(item, AddOptions())
                for item in ingester.plan(sources)]


@needs_squad
def test_answers_after_add_and_remove_equal_a_full_rebuild(settings: Settings,
                                                           tmp_path: Path) -> None:
    articles, questions = load_squad(SQUAD_DEV)
    rng = random.Random(12)
    chosen = rng.sample(articles, BASE + ADDED)
    corpus = tmp_path / "corpus"
    write_jsonl(chosen[:BASE], corpus / "base.jsonl")
    write_jsonl(chosen[BASE:], tmp_path / "new.jsonl")
    running = settings.with_overrides(**{"corpus.path": str(corpus),
                                         "index.dir": str(tmp_path / "running"),
                                         "answer.min_confidence": 0.0})
    service = QAService(running)
    watching = QAService(running)     # another process: a bot, say
    outcomes = add_all(running, [str(tmp_path / "new.jsonl")])
    assert [o.status for o in outcomes] == ["added"] * ADDED
    added = [o.article for o in outcomes]
    report = service.apply_change(added, files=[article_file_name(a.id) for a in added])
    assert not report.rebuilt and report.articles == BASE + ADDED
    assert len(read_commit(running.index_dir).names) == 2     # the added are a new segment
    removed = [a.id for a in rng.sample(chosen[BASE:], REMOVED)]
    files = [r.file for r in remove_articles(corpus, removed)]
    assert record_change(running, removed=removed, files=files) is None   # tombstones
    assert watching.pick_up_commit() and not watching.last_load.rebuilt
    assert len(watching.articles) == BASE + ADDED - REMOVED
    assert service.ask("anything").question == "anything"    # picked up when asked
    assert len(service.articles) == BASE + ADDED - REMOVED and not service.last_load.rebuilt

    fresh = QAService(running.with_overrides(**{"index.dir": str(tmp_path / "fresh")}),
                      rebuild=True)
    kept = {a.id for a in fresh.articles}
    asked = rng.sample([q for q in questions if q.paragraph_id in kept], QUESTIONS // 2) + \
        rng.sample([q for q in questions if q.paragraph_id in set(removed)], 10) + \
        rng.sample(questions, QUESTIONS // 2 - 10)
    expected = [result_to_dict(fresh.ask(q.text)) for q in asked]
    assert [result_to_dict(service.ask(q.text)) for q in asked] == expected
    assert [result_to_dict(watching.ask(q.text)) for q in asked] == expected
    compact(running.retrieval.index(), running.index_dir)
    assert len(read_commit(running.index_dir).names) == 1
    assert [result_to_dict(service.ask(q.text)) for q in asked] == expected
    # the answers above came from the compacted commit, not the old state kept open
    assert len(service.index.segments_) == 1
    answers = [service.ask(q.text).answer for q in asked[QUESTIONS // 2:QUESTIONS // 2 + 10]]
    assert [a.article_id for a in answers if a is not None and a.article_id in removed] == []
