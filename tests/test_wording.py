"""Issue 14: the wording features of the confidence (an antonym of a question word, the order
of its terms, its phrases kept together, a number it names) and the unanswerable questions
built to teach them."""
from __future__ import annotations

import random

import numpy as np
import pytest

from benchmarks.negatives import _WordSwapper, change_number, opposite_of
from retrieval.analysis import Analyzer
from retrieval.answer.features import FEATURES
from retrieval.answer.query import read_query
from retrieval.answer.wording import (ANTONYMS, antonym_unmet, names_unmet, numbers_unmet,
                                      order_kept,
                                      phrases_kept, read_wording)
from retrieval.corpus import Article
from retrieval.settings import load_settings


def test_an_antonym_of_a_question_word_is_a_mismatch():
    question = "What is the largest city in Poland?"
    assert antonym_unmet(question, ["Warsaw is the largest city.", "Lodz is the smallest city.",
                                    "It is a city.", "Not the smallest but the largest."]
                         ).tolist() == [False, True, False, False]
    assert antonym_unmet("Who came first?", ["He came last."]).tolist() == [True]
    assert all(b in ANTONYMS and a in ANTONYMS[b] for a, bs in ANTONYMS.items() for b in bs)


def test_order_and_phrases_kept_tell_who_did_what_to_whom():
    analyze = Analyzer()
    terms = analyze("What did Tesla sell to Westinghouse?")   # did tesla sell westinghous
    sentences = [analyze(s) for s in ["Tesla sold his patents to Westinghouse.",
                                      "Westinghouse sold patents to Tesla.", "Nothing here."]]
    assert order_kept(terms, sentences).tolist() == [1.0, 0.0, 1.0]
    sentences = [analyze(s) for s in ["Tesla sells his patents to Westinghouse.",
                                      "Westinghouse sells patents to Tesla.",
                                      "Tesla sells: the patents went to many firms, not to "
                                      "Westinghouse."]]
    assert phrases_kept(terms, sentences).tolist() == pytest.approx([2 / 3, 0.0, 1 / 3])
    assert phrases_kept(analyze("Tesla?"), sentences).tolist() == [0.0, 0.0, 0.0]


def test_a_number_of_the_question_the_sentence_lacks_is_unmet():
    question = "What happened in 1889 to 3 ships?"
    assert numbers_unmet(question, ["In 1889 3 ships sank.", "In 1890 3 ships sank.",
                                    "Ships sank."]).tolist() == [False, True, True]
    assert numbers_unmet("What happened?", ["In 1889."]).tolist() == [False]


def test_the_answerer_reads_the_wording_of_its_candidates(service):
    answerer = service._state.answerer
    question = "What did the button say in Russian?"
    query = read_query(answerer.index, question)
    ids, weights = answerer.index.query_vector(question)
    best = answerer.score(question, query, ids, weights, None, 1)[0]
    text = answerer._texts(np.array([best.sentence_id]))[0]
    assert "button in Russian read" in text
    wording = read_wording(question, [text], answerer.index.analyzer)
    names = {n: i for i, n in enumerate(FEATURES)}
    for name in ("antonym_unmet", "order_kept", "phrases_kept", "number_unmet", "name_unmet"):
        assert best.features[names[name]] == getattr(wording, name)[0]
    assert (best.features[names["order_kept"]], best.features[names["name_unmet"]]) == (1.0, 0.0)


def test_opposite_exchanged_and_changed_number_questions_for_training():
    assert opposite_of("What is the largest city in Poland?") == \
        "What is the smallest city in Poland?"
    assert opposite_of("Who was the First king?") == "Who was the Last king?"
    assert opposite_of("Who signed it?") is None
    articles = [Article("a", "A", "s", "Berlin lies east of Warsaw. Victoria is in Australia. "
                                       "Warsaw is far from Berlin and from Australia.")]
    index = load_settings(environ={}).retrieval.index().fit(articles)
    swapper = _WordSwapper(articles, index)
    assert swapper.exchange("How many miles east of Berlin is Warsaw?") == \
        "How many miles east of Warsaw is Berlin?"
    assert swapper.exchange("Where is Victoria?") is None   # one name only
    rng = random.Random(0)
    for _ in range(20):
        changed = change_number("What happened in 1889 to the 3 ships?",
                                "In 1889 3 ships sank; 1890 and 4 are held too.", rng)
        assert changed is not None and changed != "What happened in 1889 to the 3 ships?"
        numbers = [int(n) for n in changed.replace("?", "").split() if n.isdigit()]
        assert len(numbers) == 2 and not {1890, 4} & set(numbers)
    assert change_number("What happened?", "", rng) is None


def test_a_name_of_the_question_the_sentence_lacks_is_unmet():
    analyze = Analyzer()
    sentences = [analyze(s) for s in [
        "John Kerry is expected to visit Russia soon, Lavrov told reporters.",
        "Ivanov said John Kerry told him to wait.", "Nothing here."]]
    assert names_unmet("What did John Kerry tell Ivanov?", sentences, analyze).tolist() == \
        pytest.approx([1 / 3, 0.0, 1.0])
    assert names_unmet("What did he tell them?", sentences, analyze).tolist() == [0.0] * 3
    russian = [analyze("The Russian minister summed up the situation.")]
    assert names_unmet("Is Russia a partner?", russian, analyze).tolist() == [0.0]
