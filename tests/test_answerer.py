"""Answer selection on small corpora: near-duplicates, date cues, filters, bad questions."""
from __future__ import annotations

import pytest

from retrieval.answerer import Filters
from retrieval.errors import QuestionError
from retrieval.service import QAService

SAME_FACT = "The summit between the two presidents will take place in Geneva on June 16."


@pytest.fixture
def news(write_jsonl, settings_for):
    path = write_jsonl([
        {"id": "old", "title": "Old report", "source": "Daily A", "date": "2009-03-26",
         "text": f"{SAME_FACT}\n\nThe foreign ministers discussed the nuclear treaty in Paris."},
        {"id": "new", "title": "New report", "source": "Daily B", "date": "2021-06-01",
         "text": f"{SAME_FACT}\n\nThe foreign ministers discussed the nuclear treaty in Berlin."},
        {"id": "nodate", "title": "Undated", "source": "Daily C",
         "text": "Officials said the nuclear treaty talks would continue in the autumn."},
    ])
    return QAService(settings_for(path))


def test_the_same_fact_in_two_articles_shows_once_with_both_sources(news):
    result = news.ask("Where will the summit between the two presidents take place?")
    assert result.answer.text == SAME_FACT
    assert {result.answer.source} | {r.source for r in result.answer.also_in} == {"Daily A", "Daily B"}
    assert all(a.text != SAME_FACT for a in result.alternatives)


# The date cues and filters choose what is ranked first (whether it is sure enough to be
# answered is the confidence's business, tested apart).
def test_latest_prefers_the_newer_article(news):
    assert news.ask("What is the latest on the nuclear treaty discussed by the foreign ministers?"
                    ).ranked[0].article_id == "new"
    assert news.ask("What did the foreign ministers first discuss about the nuclear treaty, "
                    "earliest report?").ranked[0].article_id == "old"


def test_a_year_in_the_question_prefers_articles_of_that_year(news):
    assert news.ask("What did the foreign ministers discuss in 2009 about the nuclear treaty?"
                    ).ranked[0].article_id == "old"
    assert news.ask("What did the foreign ministers discuss in 2021 about the nuclear treaty?"
                    ).ranked[0].article_id == "new"


def test_filters(news):
    result = news.ask("nuclear treaty talks", filters=Filters(source="daily c"))
    assert result.ranked[0].article_id == "nodate"
    assert result.ranked[0].date is None
    assert news.ask("nuclear treaty", filters=Filters(year=2021)).ranked[0].article_id == "new"
    assert news.ask("nuclear treaty", filters=Filters(year=1999)).ranked == ()


def test_top_k_bounds_the_candidates(service):
    for k in (1, 2, 5):
        result = service.ask("Who is expected to visit Russia soon?", top_k=k)
        assert result.answer is not None
        assert 1 + len(result.alternatives) <= k


@pytest.mark.parametrize(("question", "message"), [
    ("", "empty"),
    ("   \t\n ", "empty"),
    ("\x00\x01\x1b", "empty"),
    ("x" * 100_000, "100,000 characters long"),
])
def test_bad_questions_raise_a_clear_error(service, question, message):
    with pytest.raises(QuestionError, match=message):
        service.ask(question)


def test_control_characters_inside_a_question_are_ignored(service):
    result = service.ask("What is the\x00 Dima\x1b Yakovlev\tLaw?")
    assert result.answer is not None and "Dima Yakovlev Law" in result.answer.text
    assert result.question == "What is the\x00 Dima\x1b Yakovlev\tLaw?"  # kept as given


def test_a_question_of_only_unknown_words(service):
    result = service.ask("zanzibar quux")
    assert result.answer is None and result.alternatives == () and result.message


def test_the_work_of_one_question_is_bounded_whatever_one_paragraph_holds(write_jsonl,
                                                                          settings_for):
    from retrieval import answerer
    # One article: a paragraph of about 600 kB of the same sentence (the 50 MB one
    # made the folding window grow to tens of thousands of sentences, compared pairwise).
    sentence = "The committee approved the new budget for the harbour on Monday. "
    path = write_jsonl([{"id": "big", "title": "Budget", "source": "Daily",
                         "text": sentence * 9_000}])
    service = QAService(settings_for(path))
    windows: list[int] = []
    index = service._state.index
    original = index.sentence_cosines

    def recorded(sentence_ids, rows=None):
        windows.append(len(sentence_ids))
        return original(sentence_ids, rows)

    index.sentence_cosines = recorded
    result = service.ask("When did the committee approve the harbour budget?", top_k=5)
    assert sentence.strip() in [a.text for a in result.ranked]
    assert windows and max(windows) <= answerer.MAX_FOLD_WINDOW
