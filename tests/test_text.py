"""Cleaning and sentence splitting: page furniture never becomes an answer, sentences are
verbatim spans, and the segmenter copes with abbreviations, initials and numbers."""
from __future__ import annotations

import re
from itertools import islice

import pytest
import sentencex
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from retrieval import text as text_module
from retrieval.corpus import load_corpus
from retrieval.text import SegmentationRules, Span, segment_article, split_sentences

from tests.conftest import ROOT, needs_squad

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


# ------------------------------------- the fast segmentation against the plain one it replaced

# The end of an acronym cut after one of its letters, as first written ("Russia-U.")
_CUT_ACRONYM_END = re.compile(r"(?:^|[^\w])[A-Z]\.\s*$")

def _reference_segmentation(text: str, title: str, rules) -> list:
    """The segmentation as it was written before it was made faster (regular expressions
    searched through each sentence, each block's normal form computed), as plain tuples."""
    word = text_module._WORD

    def has(t: str, n: int) -> bool:
        return sum(1 for _ in islice(word.finditer(t), n)) >= n

    def trim(start: int, end: int) -> tuple[int, int]:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return start, end

    def sentences_of(start: int, end: int) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for b in sentencex.get_sentence_boundaries(rules.language, text[start:end]):
            a, z = trim(start + b["start_index"], start + b["end_index"])
            if a >= z:
                continue
            if spans and _CUT_ACRONYM_END.search(text[spans[-1][0]:spans[-1][1]]) \
                    and text_module._CUT_ACRONYM_START.match(text[a:z]):
                spans[-1] = (spans[-1][0], z)
            else:
                spans.append((a, z))
        return spans

    def body(block: str) -> bool:
        inner = bool(re.search(r"[.!?][\"'”’»)\]]*\s+[\"'“‘(\[]?[A-Z]", block)) and has(block, 12)
        return (has(block, rules.min_block_words) and not text_module._CAPTION_START.match(block)
                and (text_module.ends_sentence(block) or inner))

    seen = {text_module._normal_form(title)} if title else set()
    passages = []
    for block in text_module._blocks(text):
        block_text = text[block.start:block.end]
        key = text_module._normal_form(block_text)
        duplicate = key in seen
        seen.add(key)
        if duplicate or not body(block_text):
            continue
        sentences = [(a, z, has(text[a:z], rules.min_sentence_words)
                      and text_module.ends_sentence(text[a:z]))
                     for a, z in sentences_of(block.start, block.end)]
        start = 0
        for i in range(1, len(sentences) + 1):
            if i == len(sentences) or sentences[i][1] - sentences[start][0] > rules.max_passage_chars:
                group = sentences[start:i]
                start = i
                if any(s[2] for s in group):
                    passages.append(((block.start, block.end) if len(group) == len(sentences)
                                     else (group[0][0], group[-1][1]), group))
    return passages


def _as_tuples(passages) -> list:
    return [((p.span.start, p.span.end), [(s.span.start, s.span.end, s.answerable)
                                          for s in p.sentences]) for p in passages]


# Sentence-shaped pieces: acronyms cut after a letter, abbreviations, quotes and brackets
# after the final mark, ellipses, captions, non-ASCII letters and spaces, repeated lines.
_PIECES = st.sampled_from([
    "The", "talks", "Mr. Lavrov", "met", "Russia-U.", "S. relations", "U.S.", "A.", "B.",
    "x A.", "_A.", "éA.", "Photo:", "photos (", "said", "it's", "3.5", "Jan.", "e.g.",
    "...", "…", ".", "!", "?", "\"", "”", "’", ")", "]", "(", " ", "  ", "\u00a0", "\t",
    "\n", "\n\n", "\r\n", "\u2028", "ÉCOLE", "ＡＢＣ", "ﬁve", "Straße", "x_y", "-", "—",
    "one two three four five", "Six seven eight nine ten eleven twelve.", "\x0c", "the",
    "THE TALKS", "The talks.", "ONE two THREE four FIVE.",
])
_ARTICLE = st.lists(_PIECES, max_size=40).map(" ".join) | st.lists(_PIECES, max_size=40).map("".join)


@hypothesis_settings(max_examples=250, deadline=None)
@given(_ARTICLE, st.sampled_from(["", "The talks", "one two three four five", "ÉCOLE"]),
       st.sampled_from([SegmentationRules(), SegmentationRules(min_block_words=2,
                        min_sentence_words=2, max_passage_chars=40)]))
def test_segmentation_is_the_plain_one_on_random_text(text, title, rules):
    expected = _reference_segmentation(text, title, rules)
    assert _as_tuples(segment_article(text, title, rules)) == expected
    spans = text_module.segment_spans(text, title, rules)
    assert [((a, z), [s[:3] for s in group]) for a, z, group in spans] == expected
    assert all(s[3] == text[s[0]:s[1]] for _, _, group in spans for s in group)


@needs_squad
def test_segmentation_is_the_plain_one_on_squad():
    from benchmarks.data import load_squad
    articles, _ = load_squad()
    for article in articles[::7]:
        for title in (article.title, article.text.splitlines()[0]):
            assert _as_tuples(segment_article(article.text, title)) == \
                _reference_segmentation(article.text, title, SegmentationRules())


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join))
def test_has_words_and_the_acronym_end_agree_with_their_regular_expressions(text):
    from retrieval.text import count_words, has_words
    for n in range(0, 7):
        assert has_words(text, n) == (count_words(text) >= n)
    assert text_module._cut_acronym_end(text) == bool(_CUT_ACRONYM_END.search(text))


@pytest.mark.parametrize("title", ["", "One two three four five", "ONE TWO three four five!"])
@pytest.mark.parametrize("repeat", [
    "one two three four five.", "ONE  two THREE four five?", "One, two; three four five.",
    "One two three four-five.", "Ｏne two three four five.", "One two three four five six.",
    "One two three four fiv.", "One two three four five’s.",
])
def test_a_repeated_block_is_told_by_its_normal_form(title, repeat):
    text = f"One two three four five.\n{repeat}\nSix seven eight nine ten.\n{repeat}"
    expected = _reference_segmentation(text, title, SegmentationRules())
    assert _as_tuples(segment_article(text, title)) == expected
