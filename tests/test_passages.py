"""The first stage over shards (runs of a commit's segments, weighted with the whole commit's
statistics) merges into exactly the first stage over the whole index: the same passages,
scores and order, ties included."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from retrieval.answer.passages import (SAMPLE, PassageSearcher, _contenders, _top,
                                       merge_best_articles, merge_best_passages)
from retrieval.cluster.shard import shard_segments
from retrieval.corpus import CorpusStream
from retrieval.index import TfidfIndex, build, read_commit
from retrieval.settings import Settings
from tests.test_seed_answers import SEED

QUESTIONS = [q for q, *_ in SEED] + ["Russia", "What did he say?", "reset relations Moscow"]


@pytest.fixture(scope="module")
def segmented(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled corpus's index as one segment per article (not merged)."""
    root = tmp_path_factory.mktemp("segmented") / "index"
    build(settings.retrieval.index(), root, CorpusStream(settings.corpus.path), jobs=1,
          batch_chars=1, merge=False)
    return root


@pytest.mark.parametrize("shards", [1, 2, 3, 5])
def test_best_passages_of_shards_merge_into_those_of_the_whole_index(segmented, shards):
    commit = read_commit(segmented)
    whole = PassageSearcher(TfidfIndex.load(segmented))
    index = whole._index
    listed = [(s["name"], s["passages"]) for s in commit.manifest["segments"]]
    assert len(listed) == 5
    parts = []
    for names in shard_segments(listed, shards):
        article, passage, _ = commit.bases[names[0]]
        parts.append(PassageSearcher(TfidfIndex.load(segmented, segments=names), article,
                                     passage))
    assert len(parts) == shards
    rng = np.random.default_rng(0)
    n_articles = len(index.articles_)
    for question in QUESTIONS:
        ids, weights = index.query_vector(question)
        for allowed, preference in ((None, None), (rng.random(n_articles) < 0.6, None),
                                    (None, 1.0 + 2.0 * (rng.random(n_articles) < 0.2))):
            for n in (1, 5, 30):
                expected = whole.best_passages(ids, weights, n, allowed, preference)
                got = merge_best_passages([p.best_passages(
                    ids, weights, n,
                    None if allowed is None else
                    allowed[p.first_article:p.first_article + p.n_articles],
                    None if preference is None else
                    preference[p.first_article:p.first_article + p.n_articles])
                    for p in parts], n)
                assert np.array_equal(got.passage_ids, expected.passage_ids)
                assert np.array_equal(got.scores, expected.scores)
                assert np.array_equal(got.chosen, expected.chosen)
        expected_articles = whole.best_articles(ids, weights, 4, 3.5)
        got_articles = merge_best_articles([p.best_articles(ids, weights, 4, 3.5)
                                            for p in parts], 4)
        assert np.array_equal(got_articles.article_ids, expected_articles.article_ids)
        assert np.array_equal(got_articles.scores, expected_articles.scores)


def test_best_passages_are_the_whole_index_scores_in_a_total_order(service):
    index = service.index
    ids, weights = index.query_vector("What did Lavrov say about the reset?")
    scores = index.passage_scores(ids, weights)
    best = PassageSearcher(index).best_passages(ids, weights, 10)
    assert np.array_equal(best.scores, scores[best.passage_ids])
    keys = list(zip(-best.scores, best.passage_ids))
    assert keys == sorted(keys)
    assert best.scores[-1] >= np.sort(scores)[-10]


def test_segments_are_grouped_into_balanced_runs():
    five = [(name, 10) for name in "abcde"]
    assert shard_segments(five, 4) == [["a"], ["b"], ["c", "d"], ["e"]]
    assert shard_segments(five, 2) == [["a", "b"], ["c", "d", "e"]]
    assert shard_segments(five[:1], 4) == [["a"]]
    assert shard_segments([("a", 100), ("b", 1), ("c", 1)], 2) == [["a"], ["b", "c"]]
    # Never fewer runs than asked for while there are segments enough, however unequal:
    # (a small corpus's build, or segments added after a merge).
    assert shard_segments([("a", 1), ("b", 1), ("c", 1), ("d", 100)], 4) == [
        ["a"], ["b"], ["c"], ["d"]]
    assert shard_segments([("a", 1), ("b", 1), ("c", 1), ("d", 100), ("e", 1)], 3) == [
        ["a", "b", "c"], ["d"], ["e"]]


def test_ties_at_the_cut_keep_the_lowest_passage_numbers():
    ids = np.array([3, 5, 8, 9, 12])
    keys = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    assert _top(ids, keys, 3).tolist() == [5, 3, 8]
    assert _top(ids, keys, 9).tolist() == [5, 3, 8, 9, 12]
    assert _top(ids[:0], keys[:0], 3).size == 0


@hypothesis_settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.0005, 0.01, 0.2, 0.9]),
       st.sampled_from([3, 8, 1000]), st.sampled_from([1, 30, 200]))
def test_the_contenders_of_a_large_corpus_hold_its_best_passages_ties_included(
        seed, matched, levels, n):
    # Scores on few levels (many ties at the cut), most passages matching no term.
    rng = np.random.default_rng(seed)
    size = 4 * SAMPLE + int(rng.integers(1, 50_000))
    keys = np.where(rng.random(size) < matched, rng.integers(1, levels + 1, size) / levels,
                    0.0).astype(np.float32)
    every = np.flatnonzero(keys > 0)
    contenders = _contenders(keys, n)
    assert contenders.size <= every.size
    assert np.array_equal(_top(contenders, keys[contenders], n), _top(every, keys[every], n))
