"""The news items of the confidence's training data (issue 14): CoQA-CNN's "tune" stories
only, the questions that read alone, right where a sentence overlaps the rationale."""
from __future__ import annotations

import json

import pytest

from benchmarks.data import COQA_CNN, Question, load_coqa_tune, standalone
from benchmarks.negatives import is_right


def test_a_question_that_points_back_does_not_read_alone():
    assert standalone("Who is Dennis Farina?")
    assert standalone("What news agency does Tony work for?")
    assert not standalone("What did he do?")
    assert not standalone("Was it in Paris?")
    assert not standalone("Whom?")


def test_a_rationale_question_is_right_where_the_sentence_overlaps_the_span():
    q = Question("q", "Who died?", "story", ("dennis farina",), span=(8, 60))
    assert is_right(q, "story", "unrelated words", (50, 90))
    assert not is_right(q, "story", "Dennis Farina has died.", (60, 90))
    assert not is_right(q, "other", "Dennis Farina has died.", (0, 90))


@pytest.mark.skipif(not (COQA_CNN / "questions.jsonl").exists(),
                    reason=f"CoQA-CNN not found at {COQA_CNN} (../shared/data/)")
def test_only_tune_stories_and_their_standalone_answerable_questions():
    rows = [json.loads(line) for line in
            (COQA_CNN / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    heldout = {r["story_id"] for r in rows if r["split"] == "heldout"}
    articles, questions = load_coqa_tune()
    assert articles and questions
    assert not {a.id for a in articles} & heldout
    assert not {q.paragraph_id for q in questions} & heldout
    by_id = {r["id"]: r for r in rows}
    for q in questions:
        row = by_id[q.id]
        assert not row["unanswerable"] and q.span == (row["span_start"], row["span_end"])
        assert row["turn"] == 1 or standalone(q.text)
