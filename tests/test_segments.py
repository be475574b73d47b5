"""The index as segments: answers identical to the monolithic index of before (recorded from
main in tests/data/main_answers.json), an index grown by segments with deletions answering
exactly as a full rebuild, merges, shards with global statistics, streaming parallel builds,
the article store, and a service that picks up a new commit.

The recorded answers (text, article, source, date, ranking score of the top three) are
main's at 862f72f, before the segments. When the ranking changes on purpose (not the index:
a new cue, a new scoring), regenerate them with ``python -m tests.test_segments``."""
from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from benchmarks.data import SQUAD_DEV, load_squad
from retrieval.answer.candidates import candidates_of
from retrieval.answer.passages import PassageSearcher, merge_best_passages
from retrieval.answerer import Answerer, Filters
from retrieval.corpus import Article, CorpusStream, load_corpus, scan_corpus
from retrieval.index import (TfidfIndex, add_articles, build, compact,
                             delete_articles, read_commit)
from retrieval.service import QAService
from retrieval.settings import load_settings

from tests.conftest import ROOT, needs_squad

GOLDEN = json.loads((ROOT / "tests" / "data" / "main_answers.json").read_text(encoding="utf-8"))


def _ranked(result) -> list[dict]:
    """What the index decides of a result (the confidence model's probabilities aside)."""
    return [{"article_id": a.article_id, "text": a.text, "source": a.source,
             "date": a.date.iso() if a.date else None, "score": a.score}
            for a in result.ranked]


def _recorded(expected: dict) -> list[dict]:
    return [{k: v for k, v in answer.items() if k != "confidence"}
            for answer in expected["ranked"]]


def _answerer(index: TfidfIndex) -> Answerer:
    settings = load_settings(environ={})
    return Answerer(index, settings=replace(settings.answer, min_confidence=0.0))


def _params() -> TfidfIndex:
    return load_settings(environ={}).retrieval.index()


@pytest.fixture(scope="module")
def squad(tmp_path_factory):
    articles, questions = load_squad(SQUAD_DEV)
    return articles, {q.id: q for q in questions}


def test_seed_answers_are_main_s_exactly(tmp_path):
    build(_params(), tmp_path / "idx", CorpusStream(ROOT / "corpus"), jobs=1)
    answerer = _answerer(TfidfIndex.load(tmp_path / "idx"))
    for expected in GOLDEN["seed"]:
        assert _ranked(answerer.ask(expected["question"], top_k=3)) == _recorded(expected), \
            expected["question"]


@needs_squad
def test_held_out_squad_answers_are_main_s_exactly(squad, tmp_path):
    articles, _ = squad
    build(_params(), tmp_path / "idx", articles, jobs=1)
    answerer = _answerer(TfidfIndex.load(tmp_path / "idx"))
    assert len(GOLDEN["squad"]) == 300
    for expected in GOLDEN["squad"]:
        assert _ranked(answerer.ask(expected["question"], top_k=3)) == _recorded(expected), \
            expected["question"]


@needs_squad
def test_an_index_grown_by_segments_answers_as_a_full_rebuild(squad, tmp_path):
    articles, _ = squad
    gone = {a.id for a in articles[::7]} | {articles[1600].id}
    grown, full = tmp_path / "grown", tmp_path / "full"
    build(_params(), grown, articles[:1500], jobs=1)
    add_articles(_params(), grown, articles[1500:1800])
    add_articles(_params(), grown, articles[1800:])
    delete_articles(_params(), grown, gone)
    build(_params(), full, [a for a in articles if a.id not in gone], jobs=1)
    grown_index, full_index = TfidfIndex.load(grown), TfidfIndex.load(full)
    assert len(grown_index.segments_) == 3 and len(full_index.segments_) == 1
    np.testing.assert_array_equal(grown_index.idf_, full_index.idf_)
    assert grown_index.vocabulary_ == full_index.vocabulary_
    questions = [g["question"] for g in GOLDEN["squad"]]
    a, b = _answerer(grown_index), _answerer(full_index)
    for question in questions:
        assert _ranked(a.ask(question, top_k=3)) == _ranked(b.ask(question, top_k=3)), question
    assert not any(x.article_id in gone for q in questions[:50]
                   for x in a.ask(q, top_k=10).ranked)

    compact(_params(), grown)
    compacted = TfidfIndex.load(grown)
    assert len(compacted.segments_) == 1 and compacted.n_passages == full_index.n_passages
    c = _answerer(compacted)
    for question in questions[:100]:
        assert _ranked(c.ask(question, top_k=3)) == _ranked(b.ask(question, top_k=3)), question
    # the merged-away segments are gone; only the commit's own are left
    listed = {s["name"] for s in read_commit(grown).manifest["segments"]}
    assert {p.name for p in grown.glob("seg-*")} == listed


@needs_squad
def test_shards_with_global_statistics_merge_to_the_whole_first_stage(squad, tmp_path):
    articles, _ = squad
    root = tmp_path / "idx"
    build(_params(), root, articles[:700], jobs=1)
    add_articles(_params(), root, articles[700:1400])
    add_articles(_params(), root, articles[1400:])
    names = read_commit(root).names
    whole = TfidfIndex.load(root)
    shards = [TfidfIndex.load(root, segments=[n]) for n in names]
    assert all(s.vocabulary_ == whole.vocabulary_ for s in shards)

    # each shard's best passages, with the whole commit's statistics and numbers, merged in
    # the total order of retrieval.answer.passages: exactly the whole index's, ties included
    bases = read_commit(root).bases
    searchers = [PassageSearcher(s, *bases[n][:2]) for s, n in zip(shards, names)]
    whole_searcher = PassageSearcher(whole)
    for expected in GOLDEN["squad"][:60]:
        ids, weights = whole.query_vector(expected["question"])
        mine = whole_searcher.best_passages(ids, weights, 30)
        theirs = merge_best_passages([p.best_passages(ids, weights, 30) for p in searchers], 30)
        assert mine.passage_ids.tolist() == theirs.passage_ids.tolist()
        assert mine.scores.tolist() == theirs.scores.tolist()
        a = candidates_of(whole, mine, ids, weights)
        b = candidates_of(whole, theirs, ids, weights)
        assert a.sentence_ids.tolist() == b.sentence_ids.tolist()
    # the coordinator runs the rest of the answerer on the merged passages (the shards'
    # searchers, merged in the total order of retrieval.answer.passages, as the cluster does)

    class Merged:
        def best_passages(self, term_ids, weights, n, allowed=None, preference=None):
            assert allowed is None and preference is None
            return merge_best_passages([p.best_passages(term_ids, weights, n)
                                        for p in searchers], n)

    coordinator = replace(_answerer(whole), first_stage=Merged())
    single = _answerer(whole)
    for expected in GOLDEN["squad"][:60]:
        question = expected["question"]
        assert [a.text for a in coordinator.ask(question, top_k=3).ranked] == \
            [a.text for a in single.ask(question, top_k=3).ranked]


def test_a_build_in_several_batches_and_processes_answers_as_one_batch(tmp_path):
    corpus = load_corpus(ROOT / "corpus")
    one, many = tmp_path / "one", tmp_path / "many"
    build(_params(), one, corpus.articles, jobs=1)
    build(_params(), many, corpus.articles, jobs=2, batch_chars=3000)
    a, b = TfidfIndex.load(one), TfidfIndex.load(many)
    assert len(a.segments_) == len(b.segments_) == 1   # the batches were merged into one
    for name in ("sentence_start_", "sentence_end_", "sentence_article_", "passage_start_",
                 "sentence_hash_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.idf_, b.idf_)
    for expected in GOLDEN["seed"]:
        assert _ranked(_answerer(b).ask(expected["question"], top_k=3)) == _recorded(expected)


def test_build_tasks_carry_the_stop_list_so_workers_never_import_scikit_learn(tmp_path):
    # A worker without the stop list imports scikit-learn for it: about 2 s of CPU each.
    import pickle

    carried = []

    def run(tasks, function, jobs):
        for task in tasks:
            carried.append(pickle.loads(pickle.dumps(task[1])).stop_list)
            yield function(*task)

    index = _params()
    index.analyzer = replace(index.analyzer, stop_list=None)
    build(index, tmp_path / "idx", load_corpus(ROOT / "corpus").articles, run=run,
          batch_chars=3000)
    assert len(carried) > 1 and all(c == index.analyzer.stop_set() for c in carried)


def test_the_store_reads_articles_by_offset_and_filters_work_from_arrays(tmp_path):
    corpus = load_corpus(ROOT / "corpus")
    build(_params(), tmp_path / "idx", corpus.articles, jobs=1)
    index = TfidfIndex.load(tmp_path / "idx")
    assert list(index.articles_) == list(corpus.articles)
    assert index.articles_.live_sources() == sorted({a.source for a in corpus.articles},
                                                    key=str.casefold)
    answerer = _answerer(index)
    result = answerer.ask("What did Lavrov say?", top_k=5, filters=Filters(source="china topix"))
    assert result.ranked and all(a.source == "China Topix" for a in result.ranked)
    result = answerer.ask("What did Lavrov say?", top_k=5, filters=Filters(year=2009))
    assert result.ranked and all(a.date.year == 2009 for a in result.ranked)


def test_the_store_keeps_each_text_compressed_and_reads_it_back_exactly(tmp_path):
    corpus = load_corpus(ROOT / "corpus")
    build(_params(), tmp_path / "idx", corpus.articles, jobs=1)
    texts = sum(len(a.text.encode("utf-8")) for a in corpus.articles)
    stored = sum(p.stat().st_size for p in tmp_path.glob("idx/seg-*/article_text.bin"))
    assert stored < 0.75 * texts
    index = TfidfIndex.load(tmp_path / "idx")
    assert [index.articles_.text(i) for i in range(len(corpus.articles))] == \
        [a.text for a in corpus.articles]


def test_counts_of_every_width_survive_a_merge(tmp_path):
    # Counts are stored in a byte where they fit; a segment whose counts need two bytes,
    # merged with one whose counts fit in one, keeps them all (and answers as one build).
    articles = list(load_corpus(ROOT / "corpus").articles)
    chant = Article("chant-1", "Chants", "Stadium Daily",
                    "The crowd sang " + "ole " * 300 + "until dawn in Seville.\n\n"
                    "The stadium of Seville reopened on Sunday after a year of works.")
    grown, full = tmp_path / "grown", tmp_path / "full"
    build(_params(), grown, articles, jobs=1)
    add_articles(_params(), grown, [chant])
    compact(_params(), grown)
    build(_params(), full, articles + [chant], jobs=1)
    a, b = TfidfIndex.load(grown), TfidfIndex.load(full)
    assert len(a.segments_) == 1
    sentence = int(np.flatnonzero(a.sentence_article_ == len(articles))[0])
    counts = a.sentence_counts(np.array([sentence]))
    assert int(counts.values.max()) == 300
    assert a.sentence_counts(np.array([sentence])).values.tolist() == \
        b.sentence_counts(np.array([sentence])).values.tolist()
    np.testing.assert_array_equal(a.passage_matrix_.toarray(), b.passage_matrix_.toarray())
    question = "When did the stadium of Seville reopen?"
    assert _ranked(_answerer(a).ask(question, top_k=3)) == _ranked(_answerer(b).ask(question,
                                                                                   top_k=3))


def test_deleting_an_unknown_article_says_which(tmp_path):
    build(_params(), tmp_path / "idx", load_corpus(ROOT / "corpus").articles, jobs=1)
    with pytest.raises(KeyError, match="no-such-id"):
        delete_articles(_params(), tmp_path / "idx", ["no-such-id"])


def test_a_service_reload_picks_up_a_new_commit_without_rebuilding(settings_for, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    settings = settings_for(corpus)
    service = QAService(settings)
    question = "What did the walrus keeper announce in Tromso?"
    assert service.ask(question).answer is None
    article = Article("walrus-1", "Walrus news", "Arctic Daily",
                      "The walrus keeper in Tromso announced on Friday that the colony of "
                      "walruses had doubled in size over the winter months.")
    (corpus / "walrus.jsonl").write_text(json.dumps(
        {"id": article.id, "title": article.title, "source": article.source,
         "text": article.text}) + "\n", encoding="utf-8")
    files, fingerprint = scan_corpus(corpus)
    add_articles(settings.retrieval.index(), settings.index_dir, [article],
                 corpus_files=[asdict(f) for f in files], fingerprint=fingerprint)
    report = service.reload()
    assert not report.rebuilt and report.reason == "index up to date"
    answer = service.ask(question).answer
    assert answer is not None and answer.article_id == "walrus-1" and \
        answer.source == "Arctic Daily"
    assert "Arctic Daily" in service.sources()


def test_qabot_index_compact_merges_the_segments(settings_for, tmp_path, capsys):
    from bot.cli import main
    corpus = load_corpus(ROOT / "corpus")
    root = tmp_path / "idx"
    settings = settings_for(ROOT / "corpus", **{"index.dir": str(root)})
    QAService(settings)
    delete_articles(_params(), root, [corpus.articles[0].id])
    add_articles(_params(), root, corpus.articles[:1])
    assert len(read_commit(root).names) == 2
    assert main(["index", "--compact", "--corpus", str(ROOT / "corpus"),
                 "--index-dir", str(root)]) == 0
    assert "compacted (2 segments into 1)" in capsys.readouterr().out
    assert len(read_commit(root).names) == 1
    index = TfidfIndex.load(root)
    assert sorted(index.article_ids_) == sorted(a.id for a in corpus.articles)


def test_a_corpus_written_just_before_a_build_is_stamped_once_it_has_been_read(
        tmp_path, monkeypatch):
    """A corpus written a moment before a (long) build was stamped as racy at its first
    byte, so every later `qabot ask` hashed it whole (1M passages: 5 s). It is stamped when
    the read ends, if the file did not change meanwhile."""
    import time

    import retrieval.corpus as corpus_module
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "a", "title": "T", "source": "S",
                                "text": "The harbour opened on Monday morning."}) + "\n",
                    encoding="utf-8")
    real, started = time.time_ns, time.time_ns()
    calls = []

    def clock() -> int:   # the read takes ten seconds
        calls.append(1)
        return started if len(calls) == 1 else started + 10 * 10**9
    monkeypatch.setattr(corpus_module.time, "time_ns", clock)
    stream = CorpusStream(path)
    assert [a.id for a in stream] == ["a"]
    monkeypatch.setattr(corpus_module.time, "time_ns", real)
    assert stream.files[0].mtime_ns == path.stat().st_mtime_ns
    assert scan_corpus(path, [asdict(f) for f in stream.files])[1] == stream.fingerprint


if __name__ == "__main__":   # record the answers as the current code ranks them
    import sys
    import tempfile

    from benchmarks.data import load_squad as _load
    with tempfile.TemporaryDirectory() as work:
        build(_params(), Path(work) / "seed", CorpusStream(ROOT / "corpus"), jobs=1)
        seed = _answerer(TfidfIndex.load(Path(work) / "seed"))
        squad_articles, squad_questions = _load(SQUAD_DEV)
        held = [q for q in squad_questions if q.held_out]
        build(_params(), Path(work) / "squad", squad_articles, jobs=1)
        squad_answerer = _answerer(TfidfIndex.load(Path(work) / "squad"))
        questions = json.loads((ROOT / "tests" / "data" / "seed_questions.json").read_text(
            encoding="utf-8"))["questions"]
        record = {**GOLDEN,
                  "seed": [{"question": q["question"],
                            "ranked": _ranked(seed.ask(q["question"], top_k=3))}
                           for q in questions],
                  "squad": [{"id": q.id, "question": q.text,
                             "ranked": _ranked(squad_answerer.ask(q.text, top_k=3))}
                            for q in held[::len(held) // 300][:300]]}
    (ROOT / "tests" / "data" / "main_answers.json").write_text(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    sys.stdout.write(f"recorded {len(record['seed'])} seed and {len(record['squad'])} SQuAD "
                     "questions\n")
