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

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import sentencex

_WORD = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*", re.UNICODE)
# What may close a sentence after its final mark: quotes and brackets.
_CLOSERS = "\"'”’»)]"
_CAPTION_START = re.compile(
    r"^[(\[]?\s*(?:photo|image|picture|pictured|video|file photo|credit|caption)s?\s*[:|)(\-–]",
    re.IGNORECASE,
)
# "U." + "S. relations": an acronym cut after one of its letters (its end: _cut_acronym_end).
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
    return n <= 0 or _first_words(n).match(text) is not None


@lru_cache(maxsize=64)
def _first_words(n: int) -> re.Pattern[str]:
    """A pattern matching the start of a text through its ``n``-th word, as ``_WORD`` finds
    them one after another: what lies between two words holds no letter or digit, and a word
    is taken whole (possessive quantifiers: no shorter reading of it is tried)."""
    word = r"[^\W_]++(?:['’.\-][^\W_]++)*+"
    return re.compile(rf"[\W_]*+(?:{word}[\W_]*+){{{n}}}")


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


def _cut_acronym_end(sentence: str) -> bool:
    """Whether ``sentence`` ends with an ASCII capital and a dot (then whitespace), at its
    start or after a character that is not a word character: the regular expression
    ``(?:^|[^\\w])[A-Z]\\.\\s*$``, read from the end."""
    end = sentence.rstrip()
    return (len(end) >= 2 and end[-1] == "." and "A" <= end[-2] <= "Z"
            and (len(end) == 2 or not (end[-3].isalnum() or end[-3] == "_")))


def split_sentences(text: str, span: Span, language: str = "en") -> list[Span]:
    """Sentence spans inside ``span`` of ``text``, by ``sentencex``, whitespace trimmed.

    An acronym cut in two after one of its letters (``Russia-U.`` / ``S. relations``) is
    joined again."""
    return [Span(start, end) for start, end, _ in _sentences(text, span.start, span.end, language)]


def _sentences(text: str, start: int, end: int, language: str) -> list[tuple[int, int, str]]:
    """``split_sentences`` of ``text[start:end]`` as (start, end, the sentence's text)."""
    return list(_iter_sentences(text, start, end, language))


# A block longer than this is given to the segmenter in windows of about this many
# characters, each ending after a sentence's end mark and a space: memory stays in
# proportion to a window, not to a huge paragraph (no news paragraph is near it).
SEGMENTER_WINDOW = 1 << 20
_WINDOW_END = re.compile(r"[.!?][\"'”’»)\]]*\s")


def _windows(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """``text[start:end]`` cut into consecutive windows of at most ``SEGMENTER_WINDOW``
    characters (one when it is no longer), each ending, where it can, after a sentence end
    mark and a space (else a space, else anywhere) in its last quarter."""
    while end - start > SEGMENTER_WINDOW:
        limit = start + SEGMENTER_WINDOW
        floor = limit - SEGMENTER_WINDOW // 4
        cut = None
        for found in _WINDOW_END.finditer(text, floor, limit):
            cut = found.end()
        if cut is None:
            space = max(text.rfind(c, floor, limit) for c in " \t")
            cut = space + 1 if space >= 0 else limit
        yield start, cut
        start = cut
    yield start, end


def _iter_sentences(text: str, start: int, end: int, language: str
                    ) -> Iterator[tuple[int, int, str]]:
    """``_sentences``, one at a time, the block read in windows (``_windows``)."""
    last: tuple[int, int, str] | None = None
    for window_start, window_end in _windows(text, start, end):
        chunk = text[window_start:window_end]
        for boundary in sentencex.get_sentence_boundaries(language, chunk):
            piece = chunk[boundary["start_index"]:boundary["end_index"]]
            sentence = piece.strip()    # str.strip and str.isspace agree on whitespace
            if not sentence:
                continue
            first = window_start + boundary["start_index"] + len(piece) - len(piece.lstrip())
            if last is not None and _CUT_ACRONYM_START.match(sentence) and \
                    _cut_acronym_end(last[2]):
                last = (last[0], first + len(sentence), text[last[0]:first + len(sentence)])
                continue
            if last is not None:
                yield last
            last = (first, first + len(sentence), sentence)
    if last is not None:
        yield last


def is_body_block(block: str, rules: SegmentationRules) -> bool:
    """Whether a block reads as article prose rather than page furniture."""
    return (has_words(block, rules.min_block_words)
            and not _CAPTION_START.match(block)
            and (ends_sentence(block) or _has_inner_sentence_end(block)))


def _has_inner_sentence_end(block: str) -> bool:
    # A long paragraph whose last sentence was cut off still holds complete sentences.
    return bool(re.search(r"[.!?][\"'”’»)\]]*\s+[\"'“‘(\[]?[A-Z]", block)) and has_words(block, 12)


# ASCII letters and digits in lower case; every other byte is deleted (``_letters``)
_ASCII_LOWER = bytes(c | 0x20 if chr(c).isalpha() and c < 128 else c for c in range(256))
_ASCII_NOT_ALNUM = bytes(c for c in range(256) if not (c < 128 and chr(c).isalnum()))
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def _letters(text: str) -> bytes:
    """The letters and digits of ``text`` as ``_normal_form`` sees them (NFKC, case-folded),
    nothing else: equal whenever two texts' normal forms are equal (every letter or digit is
    in a word, and a word holds nothing else but the marks that join its parts), and for an
    ASCII text a byte translation, much cheaper than the normal form."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_LOWER, _ASCII_NOT_ALNUM)
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).casefold()).encode(
        "utf-8", "surrogatepass")


class _SeenBlocks:
    """The blocks of an article read so far (and its title), to tell a block that repeats
    one of them (the same normal form, ``_normal_form``). A block's normal form is computed
    only when its letters and digits (``_letters``) equal an earlier block's."""

    def __init__(self, title: str) -> None:
        self._by_letters: dict[bytes, list[str]] = {}   # by a digest of the letters
        self._forms: dict[str, str] = {}
        if title:
            self._add(title)

    def repeats(self, block: str) -> bool:
        """Whether ``block`` repeats a block seen (or the title); it is then seen too."""
        earlier = self._add(block)
        if not earlier:
            return False
        form = self._form(block)
        return any(self._form(other) == form for other in earlier)

    def _add(self, text: str) -> list[str]:
        """The texts seen before with the same letters as ``text``, which is added."""
        key = hashlib.blake2b(_letters(text), digest_size=16).digest()
        same = self._by_letters.setdefault(key, [])
        earlier = list(same)
        same.append(text)
        return earlier

    def _form(self, text: str) -> str:
        form = self._forms.get(text)
        if form is None:
            form = self._forms[text] = _normal_form(text)
        return form


# A sentence as the index build reads it: start, end, answerable, its text.
SentenceSpan = tuple[int, int, bool, str]


def segment_article(text: str, title: str = "",
                    rules: SegmentationRules = SegmentationRules()) -> tuple[Passage, ...]:
    """The body passages of an article and their sentences."""
    return tuple(Passage(Span(start, end), tuple(Sentence(Span(a, b), answerable)
                                                 for a, b, answerable, _ in sentences))
                 for start, end, sentences in segment_spans(text, title, rules))


def segment_spans(text: str, title: str = "", rules: SegmentationRules = SegmentationRules()
                  ) -> list[tuple[int, int, list[SentenceSpan]]]:
    """``segment_article`` as plain tuples, each passage (start, end, its sentences), with
    each sentence's text: what the index build reads (no objects made per sentence)."""
    return list(iter_spans(text, title, rules))


def iter_spans(text: str, title: str = "", rules: SegmentationRules = SegmentationRules()
               ) -> Iterator[tuple[int, int, list[SentenceSpan]]]:
    """``segment_spans`` one passage at a time: a huge paragraph is never held whole as
    sentences (its passages are at most ``rules.max_passage_chars`` long)."""
    seen = _SeenBlocks(title)
    for block in _blocks(text):
        block_text = text[block.start:block.end]
        if seen.repeats(block_text) or not is_body_block(block_text, rules):
            continue
        del block_text
        sentences = ((start, end, has_words(sentence, rules.min_sentence_words)
                      and ends_sentence(sentence), sentence)
                     for start, end, sentence in _iter_sentences(text, block.start, block.end,
                                                                 rules.language))
        groups = _bounded(sentences, rules.max_passage_chars)
        first, second = next(groups, None), next(groups, None)
        if first is not None and second is None:     # the whole block is one passage
            if any(answerable for _, _, answerable, _ in first):
                yield block.start, block.end, first
            continue
        for group in itertools.chain((first, second), groups):
            if group is not None and any(answerable for _, _, answerable, _ in group):
                yield group[0][0], group[-1][1], group


def _bounded(sentences: Iterable[SentenceSpan], max_chars: int) -> Iterator[list[SentenceSpan]]:
    """Consecutive runs of ``sentences`` spanning at most ``max_chars`` characters each (a
    longer sentence alone)."""
    group: list[SentenceSpan] = []
    for sentence in sentences:
        if group and sentence[1] - group[0][0] > max_chars:
            yield group
            group = []
        group.append(sentence)
    if group:
        yield group


