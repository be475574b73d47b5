"""The first stage over ranges of articles (a cluster's shards) merges into exactly the first
stage over the whole index: the same passages, scores and order, ties included."""
from __future__ import annotations

import numpy as np
import pytest

from retrieval.answer.passages import (PassageSearcher, _top, merge_best_articles,
                                       merge_best_passages)
from tests.test_seed_answers import SEED

QUESTIONS = [q for q, *_ in SEED] + ["Russia", "What did he say?", "reset relations Moscow"]


def _ranges(n_articles: int, shards: int) -> list[tuple[int, int]]:
    bounds = np.linspace(0, n_articles, shards + 1).astype(int)
    return list(zip(bounds[:-1], bounds[1:]))


@pytest.mark.parametrize("shards", [2, 3, 7])
def test_best_passages_of_ranges_merge_into_those_of_the_whole_index(service, shards):
    index = service._state.index
    whole = PassageSearcher(index)
    parts = [PassageSearcher(index, lo, hi) for lo, hi in _ranges(len(index.article_ids_), shards)]
    rng = np.random.default_rng(0)
    n_articles = len(index.article_ids_)
    for question in QUESTIONS:
        ids, weights = index.query_vector(question)
        for allowed, preference in ((None, None), (rng.random(n_articles) < 0.6, None),
                                    (None, 1.0 + 2.0 * (rng.random(n_articles) < 0.2))):
            for n in (1, 5, 30):
                expected = whole.best_passages(ids, weights, n, allowed, preference)
                got = merge_best_passages([p.best_passages(
                    ids, weights, n,
                    None if allowed is None else allowed[p.first_article:p.last_article],
                    None if preference is None else preference[p.first_article:p.last_article])
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
    index = service._state.index
    ids, weights = index.query_vector("What did Lavrov say about the reset?")
    scores = index.passage_scores(ids, weights)
    best = PassageSearcher(index).best_passages(ids, weights, 10)
    assert np.array_equal(best.scores, scores[best.passage_ids])
    keys = list(zip(-best.scores, best.passage_ids))
    assert keys == sorted(keys)
    assert best.scores[-1] >= np.sort(scores)[-10]


def test_ties_at_the_cut_keep_the_lowest_passage_numbers():
    ids = np.array([3, 5, 8, 9, 12])
    keys = np.array([0.5, 0.9, 0.5, 0.5, 0.1], dtype=np.float32)
    assert _top(ids, keys, 3).tolist() == [5, 3, 8]
    assert _top(ids, keys, 9).tolist() == [5, 3, 8, 9, 12]
    assert _top(ids[:0], keys[:0], 3).size == 0
