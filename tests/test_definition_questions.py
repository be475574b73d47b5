"""Issue 14: "Who is X?" (X a name) prefers a sentence that describes X over one that merely
names X."""
from __future__ import annotations

from dataclasses import replace

import pytest

from retrieval.answer.cues import read_cues, type_matches


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
    # Now a sentence that describes him comes first (the model's ranker, issue 21, weighs
    # the description cue with the rest: a role before his name counts).
    best = service.ask("Who is Lavrov?", top_k=3).ranked[0]
    assert type_matches(read_cues("Who is Lavrov?"), [best.text]).tolist() == [True]
    assert not best.text.startswith("Mr Lavrov yesterday suggested")


def test_without_the_description_type_the_sentence_merely_naming_x_comes_first(service):
    answerer = service._state.answerer
    plain = replace(answerer, settings=replace(answerer.settings, answer_types=("date", "number")))
    best = plain.ask("Who is Lavrov?", top_k=3).ranked[0]
    assert best.text.startswith("Mr Lavrov yesterday suggested that the US was moving away")

