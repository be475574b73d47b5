"""Training the confidence (benchmarks/train_confidence.py, issue 14): observing and fitting in
several processes give the rows and the models of one, kept observations are read back only
while nothing they depend on has changed, and the features read from the index arrays equal
sparse slicing."""
from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pytest
import scipy.sparse as sp

from benchmarks import train_confidence as training
from benchmarks.data import Question
from retrieval.answer.candidates import PassageSentences
from retrieval.answer.features import term_presence
from retrieval.corpus import Article
from retrieval.index.facade import SentenceRows
from retrieval.settings import load_settings

_FACTS = {
    "Moon": ["The Moon orbits the Earth every twenty-seven days and shows phases to observers.",
             "Apollo 11 landed astronauts on the Moon in July 1969 after a long journey.",
             "The Moon has no atmosphere, so its craters keep their shapes for ages."],
    "Nile": ["The Nile flows north through eleven countries before reaching the Mediterranean.",
             "Ancient Egyptians farmed the floodplain of the Nile for thousands of years.",
             "The Aswan dam was finished in 1970 and now controls the floods of the Nile."],
    "Tea": ["Tea was first drunk in China as a medicine thousands of years ago by emperors.",
            "British merchants brought tea to London in the seventeenth century by ship.",
            "Green tea is made from leaves that are steamed before they can oxidise."],
}
_QUESTIONS = [
    ("Moon#1", "When did Apollo 11 land astronauts on the Moon?", "july 1969"),
    ("Moon#2", "Why do craters on the Moon keep their shapes?", "no atmosphere"),
    ("Nile#0", "Where does the Nile flow before reaching the Mediterranean?", "north"),
    ("Nile#2", "When was the Aswan dam finished?", "1970"),
    ("Tea#1", "Who brought tea to London?", "british merchants"),
    ("Tea#2", "How is green tea made from its leaves?", "steamed"),
]


def _corpus() -> tuple[list[Article], list[Question]]:
    articles = [Article(f"{title}#{n}", title, "test", text)
                for title, texts in _FACTS.items() for n, text in enumerate(texts)]
    questions = [Question(f"q{i}", text, pid, (answer,))
                 for i, (pid, text, answer) in enumerate(_QUESTIONS)]
    return articles, questions


def _same(a: training.Observed, b: training.Observed) -> bool:
    return all(np.array_equal(getattr(a, f.name), getattr(b, f.name), equal_nan=f.name ==
                              "features") for f in fields(training.Observed))


def test_observing_in_two_processes_gives_the_rows_of_one():
    articles, questions = _corpus()
    one = training.observe_corpus(articles, questions, "t", jobs=1, cache=None)
    two = training.observe_corpus(articles, questions, "t", jobs=2, cache=None)
    assert one.features.shape[0] > len(questions) and one.right.any()
    assert _same(one, two)


def test_kept_observations_are_read_back_instead_of_asked_again(tmp_path, monkeypatch):
    articles, questions = _corpus()
    first = training.observe_corpus(articles, questions, "t", weight=2.0, jobs=1, cache=tmp_path)
    assert len(list(tmp_path.glob("t-*.npz"))) == 1

    def refuse(*args, **kwargs):
        raise AssertionError("asked again")

    monkeypatch.setattr(training, "build_items", refuse)
    again = training.observe_corpus(articles, questions, "t", weight=2.0, jobs=1, cache=tmp_path)
    assert _same(first, again)
    assert np.array_equal(first.weight, 2.0 * training.observe_corpus(
        articles, questions, "t", jobs=1, cache=tmp_path).weight)


def test_the_observations_key_changes_with_what_they_depend_on():
    articles, questions = _corpus()
    settings = load_settings(environ={})
    key = training.observations_key(articles, questions, settings)
    assert key == training.observations_key(articles, questions, settings)
    changed_text = [replace(articles[0], text=articles[0].text + " Really.")] + articles[1:]
    assert training.observations_key(changed_text, questions, settings) != key
    assert training.observations_key(articles, questions[:-1], settings) != key
    weighted = settings.with_overrides(**{"answer.sentence_weight": 0.5})
    assert training.observations_key(articles, questions, weighted) != key
    # What decides whether to answer is not a feature: the kept rows stay valid.
    stricter = settings.with_overrides(**{"answer.min_confidence": 0.9})
    assert training.observations_key(articles, questions, stricter) == key


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_terms_held_by_sentences_and_passages_equal_sparse_slicing(seed):
    rng = np.random.default_rng(seed)
    matrix = sp.random(40, 30, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    matrix.sort_indices()
    rows = SentenceRows(matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64),
                        matrix.data)
    indptr = np.array([0, 3, 4, 10, 10, 25, 40])     # six passages, one without sentences
    sentences = PassageSentences(np.arange(40), indptr, rows)
    positions = rng.choice(40, size=12)                 # repeats allowed
    passages = np.searchsorted(indptr, positions, side="right") - 1
    terms = rng.choice(30, size=7, replace=False)
    in_sentence, in_passage = term_presence(sentences, positions, passages, terms)
    assert np.array_equal(in_sentence, matrix[positions][:, terms].toarray() > 0)
    expected = [(matrix[indptr[p]:indptr[p + 1]][:, terms].toarray() > 0).any(axis=0)
                for p in passages]
    assert np.array_equal(in_passage, np.array(expected))
    none = np.zeros(0, dtype=np.int64)
    assert [m.shape for m in term_presence(sentences, positions, passages, none)] == [(12, 0)] * 2
    assert [m.shape for m in term_presence(sentences, none, none, terms)] == [(0, 7)] * 2


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # a tiny set
def test_fitting_in_two_processes_gives_the_models_of_one():
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=(n, 3))
    right = x[:, 0] + rng.normal(scale=0.5, size=n) > 0
    item = np.arange(n) // 3                     # three candidates a question
    obs = training.Observed(x, right, np.ones(n), np.ones(n, dtype=bool),
                            np.array(["asked"] * n), np.array([f"g{i % 9}" for i in item]),
                            item, np.array(["test"] * n, dtype=object))
    usable = np.ones(n, dtype=bool)
    usable[:5] = False
    one, ranked_one, final_one, ranker_one = training.out_of_fold(obs, usable, jobs=1)
    two, ranked_two, final_two, ranker_two = training.out_of_fold(obs, usable, jobs=2)
    assert np.array_equal(one, two) and np.array_equal(ranked_one, ranked_two)
    assert np.array_equal(ranker_one, ranker_two)
    assert np.all(one[:5] == 0) and 0.75 < training.auroc(one[usable], right[usable]) <= 1
    # The ranker learned that the first feature tells right from wrong.
    assert ranker_one[0] > abs(ranker_one[1]) and ranker_one[0] > abs(ranker_one[2])
    assert np.array_equal(final_one.predict_proba(x), final_two.predict_proba(x))


def test_the_threshold_is_chosen_for_what_readers_get():
    """Right answers gain, wrong ones (and answers to what no article says) cost as much;
    each data set counts the same."""
    f = training.Firsts(confidence=np.array([0.9, 0.8, 0.7, 0.3, 0.2]),
                        right=np.array([True, True, False, True, False]),
                        weight=np.ones(5), answerable=np.array([True, True, True, True, False]),
                        source=np.array(["a"] * 5, dtype=object))
    assert training.utility(f, 0.75) == pytest.approx(2 / 5)
    assert training.utility(f, 0.25) == pytest.approx(2 / 5)     # +1 right, +1 wrong
    assert training.utility(f, 0.1) == pytest.approx(1 / 5)
    assert training.choose_threshold(f, window=0) == 0.21      # the lowest of equals
    first = training.firsts(np.array([0.2, 0.9, 0.5]), training.Observed(
        np.zeros((3, 1)), np.array([False, True, True]), np.ones(3), np.ones(3, dtype=bool),
        np.array(["asked"] * 3), np.array(["g"] * 3), np.array([0, 0, 1]),
        np.array(["a"] * 3, dtype=object)), key=np.array([1.0, 0.0, 0.0]))
    # Ordered by the key (the ranker), each item's first keeps its own confidence.
    assert first.confidence.tolist() == [0.2, 0.5] and first.right.tolist() == [False, True]
