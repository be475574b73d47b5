"""Issue 14: "Who is X?" prefers a sentence describing X, and the wording features of the
confidence (an antonym of a question word, the order of its terms) with the unanswerable
questions built to teach them."""
from __future__ import annotations

import pytest

from benchmarks.negatives import _WordSwapper, opposite_of
from retrieval.analysis import Analyzer
from retrieval.answer.cues import read_cues, type_matches
from retrieval.answer.wording import ANTONYMS, antonym_unmet, order_kept
from retrieval.corpus import Article
from retrieval.settings import load_settings


@pytest.mark.parametrize(("question", "name"), [
    ("Who is Lavrov?", "Lavrov"), ("Who was Sergey Magnitsky?", "Sergey Magnitsky"),
    ("What is the Dima Yakovlev Law?", "Dima Yakovlev Law"), ("who is John Kerry", "John Kerry"),
])
def test_who_is_x_asks_for_a_description_of_x(question, name):
    cues = read_cues(question)
    assert (cues.answer_type, cues.defines) == ("description", name)


@pytest.mark.parametrize("question", ["Who is the president of Russia now?", "Who is he?",
                                      "What is the capital of Ukraine?", "Who signed it?"])
def test_other_questions_ask_for_no_description(question):
    assert read_cues(question).answer_type != "description"


def test_a_describing_sentence_has_a_role_an_apposition_or_is_a():
    cues = read_cues("Who is Sergei Lavrov?")
    assert type_matches(cues, [
        "Russia’s Foreign Minister Sergei Lavrov has announced an end to the reset.",
        "Lavrov, who has won a reputation for firmness, spoke.",
        "Lavrov is a career diplomat.",
        "Lavrov conceded.",
        "Lavrov said he had told Biden about it.",
    ]).tolist() == [True, True, True, False, False]


def test_who_is_x_ranks_the_sentence_describing_x_first(service):
    # Before: "Mr Lavrov yesterday suggested that the US was moving away ..." (names him).
    best = service.ask("Who is Lavrov?", top_k=3).ranked[0]
    assert best.text == ("“We will retaliate for unfriendly acts” in future as well, asserted "
                         "Mr. Lavrov, who has won a reputation for firmly standing up to "
                         "Russia’s national interests during his eight years at the helm of "
                         "the Foreign Ministry.")
    assert best.article_id == "000_9639a6f131cd2677"
    assert best.date is not None and best.source
    biden = service.ask("Who is Biden?", top_k=3).ranked[0]
    assert biden.text.startswith("US Vice President Joseph Biden reportedly told")


def test_an_antonym_of_a_question_word_is_a_mismatch():
    question = "What is the largest city in Poland?"
    assert antonym_unmet(question, ["Warsaw is the largest city.", "Lodz is the smallest city.",
                                    "It is a city.", "Not the smallest but the largest."]
                         ).tolist() == [False, True, False, False]
    assert antonym_unmet("Who came first?", ["He came last."]).tolist() == [True]
    assert all(b in ANTONYMS and a in ANTONYMS[b] for a, bs in ANTONYMS.items() for b in bs)


def test_order_kept_is_the_share_of_question_terms_in_the_same_order():
    analyze = Analyzer()
    terms = analyze("What did Tesla sell to Westinghouse?")
    assert order_kept(terms, ["Tesla sold his patents to Westinghouse.",
                              "Westinghouse sold patents to Tesla.", "Nothing here."],
                      analyze).tolist() == [1.0, 0.0, 1.0]


def test_opposite_and_exchanged_questions_for_training():
    assert opposite_of("What is the largest city in Poland?") == \
        "What is the smallest city in Poland?"
    assert opposite_of("Who was the First king?") == "Who was the Last king?"
    assert opposite_of("Who signed it?") is None
    articles = [Article("a", "A", "s", "Berlin lies east of Warsaw. Victoria is in Australia. "
                                       "Warsaw is far from Berlin and from Australia.")]
    index = load_settings(environ={}).retrieval.index().fit(articles)
    swapper = _WordSwapper(articles, index)
    assert swapper.exchange("How many miles east of Berlin is Warsaw?") in (
        "How many miles east of Warsaw is Berlin?",)
    assert swapper.exchange("Where is Victoria?") is None   # one name only
