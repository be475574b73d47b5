"""Text processing: which parts of an article may be answers, and where its sentences are.

Nothing here rewrites text. Every span is a pair of character offsets into ``Article.text``,
so what the bot quotes is ``text[start:end]``, verbatim by construction.

An article is read line by line. Each non-blank line is a *block*. Page furniture
(navigation, share buttons, bylines, captions, repeated headlines, teasers cut off with an
ellipsis, timestamps) is recognised by general shape rules, not by a list of strings:

* a block with fewer than ``min_block_words`` words is a label, heading or byline;
* a block that does not end a sentence (no final ``.``, ``!`` or ``?``, possibly followed by
  closing quotes or brackets) is a headline, a menu or a truncated teaser;
* a block that starts with a photo or image credit is a caption;
* a block repeating an earlier block or the headline is a duplicate.

Blocks that pass are *passages* (the retrieval unit: a paragraph). Their sentences, found by
the ``sentencex`` segmenter, are answer candidates when they are complete sentences of at
least ``min_sentence_words`` words.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import sentencex

_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*", re.UNICODE)
# What may close a sentence after its final mark: quotes and brackets.
_CLOSERS = "\"'”’»)]"
_CAPTION_START = re.compile(
    r"^[(\[]?\s*(?:photo|image|picture|pictured|video|file photo|credit|caption)s?\s*[:|)(\-–]",
    re.IGNORECASE,
)
# "U." + "S. relations": an acronym cut after one of its letters.
_CUT_ACRONYM_END = re.compile(r"(?:^|[^\w])[A-Z]\.\s*$")
_CUT_ACRONYM_START = re.compile(r"^[A-Z]\.")


@dataclass(frozen=True)
class Span:
    """A half-open character range ``[start, end)`` of an article's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage; ``answerable`` when it may be quoted as an answer."""

    span: Span
    answerable: bool


@dataclass(frozen=True)
class Passage:
    """A paragraph that belongs to the article body, with its sentences."""

    span: Span
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class SegmentationRules:
    """Parameters of the cleaning rules (see the module documentation)."""

    min_block_words: int = 5
    min_sentence_words: int = 4
    language: str = "en"
    # A longer paragraph is split (between sentences) into passages of at most this many
    # characters, so that the candidates of one question are bounded whatever an article
    # holds. Above every SQuAD paragraph (4,063 at most) and every news paragraph seen.
    max_passage_chars: int = 5000


def count_words(text: str) -> int:
    """Number of words in ``text`` (letters or digits, joined by apostrophes, dots or hyphens)."""
    return len(_WORD.findall(text))


def has_words(text: str, n: int) -> bool:
    """Whether ``text`` holds at least ``n`` words (``count_words(text) >= n``), reading no
    further than its ``n``-th word."""
    return sum(1 for _ in islice(_WORD.finditer(text), n)) >= n


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends like a complete sentence: ``.``, ``!`` or ``?``, then possibly
    closing quotes or brackets, then possibly whitespace (and not with an ellipsis, ``…`` or
    ``...``). Read from the end: no search through the text."""
    end = text.rstrip().rstrip(_CLOSERS)
    return end[-1:] in (".", "!", "?") and not end.endswith("...")


def normal_words(text: str) -> list[str]:
    """The words of ``text``, NFKC-normalised and case-folded (how texts are compared)."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _normal_form(text: str) -> str:
    return " ".join(normal_words(text))


def _blocks(text: str) -> Iterator[Span]:
    """Non-blank lines, without their surrounding whitespace."""
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped:
            start = offset + line.index(stripped[0])
            yield Span(start, start + len(stripped))
        offset += len(line)


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end)


def split_sentences(text: str, span: Span, language: str = "en") -> list[Span]:
    """Sentence spans inside ``span`` of ``text``, by ``sentencex``, whitespace trimmed.

    An acronym cut in two after one of its letters (``Russia-U.`` / ``S. relations``) is
    joined again."""
    chunk = text[span.start:span.end]
    spans: list[Span] = []
    for boundary in sentencex.get_sentence_boundaries(language, chunk):
        piece = _trim(text, span.start + boundary["start_index"], span.start + boundary["end_index"])
        if piece.start >= piece.end:
            continue
        if spans and _CUT_ACRONYM_END.search(text[spans[-1].start:spans[-1].end]) \
                and _CUT_ACRONYM_START.match(text[piece.start:piece.end]):
            spans[-1] = Span(spans[-1].start, piece.end)
        else:
            spans.append(piece)
    return spans


def is_body_block(block: str, rules: SegmentationRules) -> bool:
    """Whether a block reads as article prose rather than page furniture."""
    return (has_words(block, rules.min_block_words)
            and not _CAPTION_START.match(block)
            and (ends_sentence(block) or _has_inner_sentence_end(block)))


def _has_inner_sentence_end(block: str) -> bool:
    # A long paragraph whose last sentence was cut off still holds complete sentences.
    return bool(re.search(r"[.!?][\"'”’»)\]]*\s+[\"'“‘(\[]?[A-Z]", block)) and has_words(block, 12)


def segment_article(text: str, title: str = "",
                    rules: SegmentationRules = SegmentationRules()) -> tuple[Passage, ...]:
    """The body passages of an article and their sentences."""
    seen = {_normal_form(title)} if title else set()
    passages: list[Passage] = []
    for block in _blocks(text):
        block_text = text[block.start:block.end]
        key = _normal_form(block_text)
        duplicate = key in seen
        seen.add(key)
        if duplicate or not is_body_block(block_text, rules):
            continue
        sentences = tuple(
            Sentence(s, has_words(text[s.start:s.end], rules.min_sentence_words)
                     and ends_sentence(text[s.start:s.end]))
            for s in split_sentences(text, block, rules.language)
        )
        for group in _bounded(sentences, rules.max_passage_chars):
            if any(s.answerable for s in group):
                span = block if len(group) == len(sentences) else \
                    Span(group[0].span.start, group[-1].span.end)
                passages.append(Passage(span, group))
    return tuple(passages)


def _bounded(sentences: tuple[Sentence, ...], max_chars: int) -> Iterator[tuple[Sentence, ...]]:
    """Consecutive runs of ``sentences`` spanning at most ``max_chars`` characters each (a
    longer sentence alone)."""
    start = 0
    for i in range(1, len(sentences) + 1):
        if i == len(sentences) or \
                sentences[i].span.end - sentences[start].span.start > max_chars:
            yield sentences[start:i]
            start = i
