"""Cleaning and sentence splitting: page furniture never becomes an answer, sentences are
verbatim spans, and the segmenter copes with abbreviations, initials and numbers."""
from __future__ import annotations

import pytest

from retrieval.corpus import load_corpus
from retrieval.text import Span, segment_article, split_sentences

from tests.conftest import ROOT

# Lines of the seed pages that are not article text (from the issue), and the subheading.
FURNITURE = [
    "icon bookmark-bicon", "CHINA TOPIX", "01/22/2025 07:54:10 am", "Make CT Your Homepage",
    "(Photo : Reuters/Brendan McDermid)", "Like Us on Facebook", "Real Time Analytics",
    "READ MORE", "You're reading:", "More In: International | News", "Robert Bridge, RT",
    "National interests", "nuclear arms control…", "( Financial Timesservice)",
]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


def answer_sentences(article):
    return [article.text[s.span.start:s.span.end]
            for p in segment_article(article.text, article.title) for s in p.sentences
            if s.answerable]


def test_no_page_furniture_among_answer_sentences(corpus):
    sentences = [s for a in corpus.articles for s in answer_sentences(a)]
    for furniture in FURNITURE:
        assert not [s for s in sentences if furniture in s], furniture


def test_furniture_and_subheading_are_still_in_the_stored_text(corpus):
    text = "".join(a.text for a in corpus.articles)
    assert "National interests" in text and "Like Us on Facebook" in text


def test_repeated_headline_and_teaser_are_not_answers(corpus):
    rt = next(a for a in corpus.articles if a.source == "RT")
    assert not any(s.startswith("WMD may be key") for s in answer_sentences(rt))
    irish = next(a for a in corpus.articles if a.id.startswith("002"))
    teaser_start = "RUSSIAN FOREIGN minister Sergei Lavrov said a thaw"
    assert [s for s in answer_sentences(irish) if s.startswith(teaser_start)] == [
        "RUSSIAN FOREIGN minister Sergei Lavrov said a thaw in relations with the US creates hope "
        "for progress on nuclear arms control and other key issues when President Barack Obama "
        "and President Dmitry Medvedev meet next week."]


def test_every_span_is_trimmed_and_inside_its_passage(corpus):
    for article in corpus.articles:
        for passage in segment_article(article.text, article.title):
            for sentence in passage.sentences:
                text = article.text[sentence.span.start:sentence.span.end]
                assert text and text == text.strip()
                assert passage.span.start <= sentence.span.start < sentence.span.end <= passage.span.end


@pytest.mark.parametrize(("text", "expected"), [
    ("Mr. Lavrov met Dr. Smith in the U.S. on Monday. They talked.",
     ["Mr. Lavrov met Dr. Smith in the U.S. on Monday.", "They talked."]),
    ("He cited the 1-2-3 agreement on civil nuclear cooperation. It was signed in 2008.",
     ["He cited the 1-2-3 agreement on civil nuclear cooperation.", "It was signed in 2008."]),
    ("Former President George W. Bush and John F. Kennedy differ. Yes.",
     ["Former President George W. Bush and John F. Kennedy differ.", "Yes."]),
    ("He wanted to mend Russia-U.S. relations. Then he left.",
     ["He wanted to mend Russia-U.S. relations.", "Then he left."]),
    ("“We will retaliate,” asserted Mr. Lavrov. He said so twice.",
     ["“We will retaliate,” asserted Mr. Lavrov.", "He said so twice."]),
    ("Prices rose 3.5 percent in Jan. to 1,200.50 dollars. Analysts were surprised.",
     ["Prices rose 3.5 percent in Jan. to 1,200.50 dollars.", "Analysts were surprised."]),
])
def test_sentence_splitting(text, expected):
    spans = split_sentences(text, Span(0, len(text)))
    assert [text[s.start:s.end] for s in spans] == expected


def test_short_fragments_and_unfinished_sentences_are_not_answers():
    text = "Breaking News\n\nThe minister said the talks would resume next week in Geneva.\n\nSubscribe now for more"
    passages = segment_article(text, "A title")
    sentences = [text[s.span.start:s.span.end] for p in passages for s in p.sentences if s.answerable]
    assert sentences == ["The minister said the talks would resume next week in Geneva."]


def test_caption_lines_are_not_answers():
    text = ("Photo: AP/John Doe The minister arrives at the summit in Geneva on Monday.\n"
            "The minister said the talks would resume next week in Geneva.")
    passages = segment_article(text)
    assert [text[p.span.start:p.span.end] for p in passages] == [
        "The minister said the talks would resume next week in Geneva."]


def test_a_long_paragraph_is_split_into_passages_of_bounded_size():
    from retrieval.text import SegmentationRules
    sentence = "The committee approved the new budget for the harbour on Monday. "
    text = "Budget news\n\n" + sentence * 2000 + "\n\nThe mayor thanked the committee for its work.\n"
    rules = SegmentationRules()
    passages = segment_article(text, "Budget news", rules)
    assert len(passages) > 20
    assert all(p.span.end - p.span.start <= rules.max_passage_chars for p in passages)
    sentences = [s.span for p in passages for s in p.sentences]
    assert len(sentences) == 2001  # every sentence kept, once, in order
    assert all(a.end <= b.start for a, b in zip(sentences, sentences[1:]))
    assert text[sentences[-1].start:sentences[-1].end] == "The mayor thanked the committee for its work."


@pytest.mark.parametrize("text", [
    "He left.", "He left", "He left.  ", "He left.\n", 'He said "go."', 'He said "go." ',
    "He left. )", 'He left. "', "Why?)]”  ", "Stop!’»", "It went on...", "It went on…",
    "It went on…”", 'It went on..." ', "Fine.\u00a0", "Fine.\u2003\n", "", " ", ".", "...",
    "a.b", "Wait..!", "Sure.. ", "(Yes.)", "No.\t)",
])
def test_ends_sentence_reads_the_end_as_the_sentence_end_patterns_did(text):
    """``ends_sentence`` reads the text's end instead of searching it with two patterns
    (the build's segmentation spent a seventh of its time in them); it agrees with them."""
    import re

    from retrieval.text import ends_sentence
    end = re.compile(r"[.!?][\"'”’»)\]]*\s*$")
    ellipsis = re.compile(r"(?:…|\.\.\.)[\"'”’»)\]]*\s*$")
    assert ends_sentence(text) == (bool(end.search(text)) and not ellipsis.search(text))


@pytest.mark.parametrize("text", ["", "one", "U.S. forces", "a b c d", "a b c", "it's -- 'x' y",
                                  "one two three four five six", "___ __ a"])
def test_has_words_agrees_with_count_words(text):
    from retrieval.text import count_words, has_words
    for n in range(0, 8):
        assert has_words(text, n) == (count_words(text) >= n)
