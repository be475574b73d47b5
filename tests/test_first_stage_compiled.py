"""The compiled first stage (numba kernels, used for large indexes) gives exactly what the
numpy/scipy first stage gives: the same passages, scores, keys and order, ties included, over
several segments with deleted articles, with and without a filter and a conversation's
preference; and the answers recorded from main stay the same through it."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("numba")

from benchmarks.data import SQUAD_DEV, load_squad  # noqa: E402
from retrieval.answer.passages import COMPILED_FROM, PassageSearcher  # noqa: E402
from retrieval.answerer import Answerer  # noqa: E402
from retrieval.corpus import CorpusStream  # noqa: E402
from retrieval.index import TfidfIndex, add_articles, build, delete_articles  # noqa: E402
from retrieval.settings import load_settings  # noqa: E402
from tests.conftest import ROOT, needs_squad  # noqa: E402
from tests.test_passages import QUESTIONS  # noqa: E402
from tests.test_segments import GOLDEN, _params, _ranked, _recorded  # noqa: E402


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> TfidfIndex:
    """SQuAD's dev articles in three segments, some of them deleted."""
    articles, _ = load_squad(SQUAD_DEV)
    root = tmp_path_factory.mktemp("compiled") / "index"
    build(_params(), root, articles[:1200], jobs=1)
    add_articles(_params(), root, articles[1200:1700])
    add_articles(_params(), root, articles[1700:])
    delete_articles(_params(), root, {a.id for a in articles[::9]})
    index = TfidfIndex.load(root)
    assert len(index.segments_) == 3 and index.live_passages is not None
    return index


def _same(a, b) -> None:
    assert a.passage_ids.dtype == b.passage_ids.dtype
    assert a.scores.dtype == b.scores.dtype and a.chosen.dtype == b.chosen.dtype
    assert np.array_equal(a.passage_ids, b.passage_ids)
    assert np.array_equal(a.scores, b.scores)
    assert np.array_equal(a.chosen, b.chosen)


@needs_squad
def test_the_compiled_first_stage_chooses_exactly_as_the_scipy_one(grown):
    plain = PassageSearcher(grown, compiled=False)
    compiled = PassageSearcher(grown, compiled=True)
    assert compiled.compiled and not plain.compiled
    rng = np.random.default_rng(0)
    n_articles = len(grown.articles_)
    questions = [g["question"] for g in GOLDEN["squad"]]
    ties = 0
    for i, question in enumerate(questions):
        ids, weights = grown.query_vector(question)
        allowed = rng.random(n_articles) < 0.5
        preference = 1.0 + 2.0 * (rng.random(n_articles) < 0.2)
        for n in (0, 1, 30, 10_000):
            for a, p in ((None, None), (allowed, None), (None, preference),
                         (allowed, preference)):
                expected = plain.best_passages(ids, weights, n, a, p)
                _same(compiled.best_passages(ids, weights, n, a, p), expected)
                ties += int(np.unique(expected.chosen).size < expected.chosen.size)
    assert ties > 0      # equal scores happen, and are ordered alike
    # a float32 preference ranks by float32 keys, as numpy multiplies it
    ids, weights = grown.query_vector(questions[0])
    narrow = (1.0 + 2.0 * (rng.random(n_articles) < 0.2)).astype(np.float32)
    _same(compiled.best_passages(ids, weights, 30, None, narrow),
          plain.best_passages(ids, weights, 30, None, narrow))
    for i, question in enumerate(questions[:150]):
        ids, weights = grown.query_vector(question)
        scale = float(grown.idf_[ids].sum())
        for k in (0, 1, 4, 10_000):
            expected = plain.best_articles(ids, weights, k, scale)
            got = compiled.best_articles(ids, weights, k, scale)
            for field in ("article_ids", "scores", "passage_ids"):
                a, b = getattr(got, field), getattr(expected, field)
                assert a.dtype == b.dtype and np.array_equal(a, b), (question, k, field)
    # an empty question and a question of one unknown-everywhere term choose nothing
    empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    _same(compiled.best_passages(*empty, 30), plain.best_passages(*empty, 30))


def test_the_compiled_first_stage_is_the_default_for_large_indexes_from_the_second_question(
        tmp_path):
    build(_params(), tmp_path / "idx", CorpusStream(ROOT / "corpus"), jobs=1)
    index = TfidfIndex.load(tmp_path / "idx")
    ids, weights = index.query_vector("What did Lavrov say about the reset?")
    assert index.n_passages < COMPILED_FROM
    small = PassageSearcher(index)
    for _ in range(3):
        small.best_passages(ids, weights, 30)
        assert not small.compiled
    # a large index: a process answering one question never imports numba for it
    large = PassageSearcher(index, compiled_from=index.n_passages)
    first = large.best_passages(ids, weights, 30)
    assert not large.compiled
    second = large.best_passages(ids, weights, 30)
    assert large.compiled
    _same(second, first)
    forced = PassageSearcher(index, compiled=True)
    assert forced.compiled
    # news articles of several paragraphs each: an article's best paragraph, ties included
    assert index.n_passages > 2 * len(index.articles_)
    for question in QUESTIONS:
        ids, weights = index.query_vector(question)
        for k in (1, 3, 50):
            for scale in (1.0, float(index.idf_[ids].sum())):
                expected = small.best_articles(ids, weights, k, scale)
                got = forced.best_articles(ids, weights, k, scale)
                for field in ("article_ids", "scores", "passage_ids"):
                    assert np.array_equal(getattr(got, field), getattr(expected, field))
    tfidf = TfidfIndex.load(tmp_path / "idx")
    tfidf.weighting = "tfidf"
    with pytest.raises(ValueError, match="BM25 only"):
        PassageSearcher(tfidf, compiled=True)


@needs_squad
def test_held_out_answers_through_the_compiled_first_stage_are_main_s(tmp_path):
    articles, _ = load_squad(SQUAD_DEV)
    build(_params(), tmp_path / "idx", articles, jobs=1)
    index = TfidfIndex.load(tmp_path / "idx")
    settings = replace(load_settings(environ={}).answer, min_confidence=0.0)
    answerer = Answerer(index, settings=settings,
                        first_stage=PassageSearcher(index, compiled=True))
    for expected in GOLDEN["squad"]:
        assert _ranked(answerer.ask(expected["question"], top_k=3)) == _recorded(expected), \
            expected["question"]
