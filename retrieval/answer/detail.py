"""Step 5b: whether a sentence holds what the question asks for beyond its topic words.

Read from the texts of the question and of each candidate sentence: the
answer type with something the question does not already say (a new name, a new number, a
date), the question's own names and numbers missing from the sentence, and how close the
sentence's words are to the question's where they are not the same words (static word
vectors, ``retrieval.answer.semantic``): "kids" for "children", "banned" for "prohibited".
Every value is a share, a flag or a cosine, so it means the same on five articles and five
million."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from retrieval.analysis import Analyzer
from retrieval.answer.cues import QuestionCues, type_matches_beyond
from retrieval.answer.semantic import WordVectors

DETAIL_FEATURES: tuple[str, ...] = (
    "new_type",         # the sentence holds the asked type (date, number, person, place) that
                        # the question does not say itself
    "new_name",         # ... a name (a capitalised word inside it) the question does not hold
    "new_number",       # ... a number the question does not hold
    "names_missing",    # share of the question's names the sentence lacks
    "numbers_missing",  # share of the question's numbers the sentence lacks
    "soft_match",       # idf-weighted share of the question's words the sentence holds, a word
                        # absent counting by its closeness to the sentence's nearest word
    "semantic",         # cosine of the mean word vectors of question and sentence
)

_NAME = re.compile(r"(?<=[\w,;:’'\")] )[A-Z][\w’'-]*")
_NUMBER = re.compile(r"\d[\d,.]*")
# Closeness below this is what unrelated words get (word vectors are never orthogonal).
_FLOOR = 0.25
_CACHE_LIMIT = 100_000   # words whose terms a DetailReader keeps


@dataclass(frozen=True, eq=False)
class QuestionWords:
    """The question's content words as the vectors see them, with the weight (idf) of each
    and its index term; its names and its numbers."""

    words: tuple[str, ...]
    terms: tuple[str, ...]
    weights: np.ndarray
    names: frozenset[str]
    numbers: frozenset[str]


def _normal_number(text: str) -> str:
    return text.rstrip(".,").replace(",", "")


@dataclass(eq=False)
class DetailReader:
    """Reads ``DETAIL_FEATURES`` with an index's ``analyzer`` and the word ``vectors`` (None:
    a word counts only when it is the same word); keeps each word's term (bounded)."""

    analyzer: Analyzer
    vectors: WordVectors | None = None
    _terms: dict[str, str] = field(default_factory=dict, repr=False)

    def terms(self, text: str) -> list[tuple[str, str]]:
        """The distinct content words of ``text`` (case-folded) with their index terms."""
        known = self._terms
        if len(known) > _CACHE_LIMIT:
            known.clear()
        out = []
        for word in dict.fromkeys(self.analyzer.words(text)):
            term = known.get(word)
            if term is None:
                analysed = self.analyzer(word)
                term = known[word] = analysed[0] if analysed else ""
            if term:
                out.append((word, term))
        return out

    def question(self, question: str, idf: Callable[[Sequence[str]], np.ndarray]
                 ) -> QuestionWords:
        """The content words of ``question``, their terms and weights (``idf`` of the
        terms), its names and its numbers."""
        pairs = self.terms(question)
        weights = np.asarray(idf([t for _, t in pairs]), dtype=np.float64).reshape(-1)
        # A question typed in capitals (shouted) names nothing by its case.
        shouted = question.upper() == question
        names = frozenset(w.casefold() for w in _NAME.findall(question) if not shouted)
        names = frozenset(n for n in names if self.terms(n))
        numbers = frozenset(_normal_number(n) for n in _NUMBER.findall(question)) - {""}
        return QuestionWords(tuple(w for w, _ in pairs), tuple(t for _, t in pairs), weights,
                             names, numbers)

    def features(self, question: str, cues: QuestionCues, asked: QuestionWords,
                 sentences: Sequence[str]) -> dict[str, np.ndarray]:
        """The columns of ``DETAIL_FEATURES`` for the candidate ``sentences`` of
        ``question`` (read as ``cues`` and ``asked``)."""
        n = len(sentences)
        lowered = question.casefold()
        new_type = type_matches_beyond(cues, question, sentences)
        new_name, new_number = np.zeros(n), np.zeros(n)
        names_missing, numbers_missing = np.zeros(n), np.zeros(n)
        soft, semantic = np.zeros(n), np.zeros(n)
        vectors = self.vectors
        terms_of = [self.terms(s) for s in sentences]
        q_soft = q_mean = None
        if vectors is not None:      # every word's vector at once (one tokenizer call)
            words = list(dict.fromkeys([*asked.words, *(w for pairs in terms_of
                                                        for w, _ in pairs)]))
            table = vectors.of(words)
            row = {w: i for i, w in enumerate(words)}
            if asked.words:
                q_soft = table[[row[w] for w in asked.words]]
                total = q_soft.sum(axis=0)          # the question's mean vector, normalised
                norm = float(np.linalg.norm(total))
                q_mean = total / norm if norm > 0 else total
        mass = float(asked.weights.sum())
        asked_terms = asked.terms
        for i, (s, pairs) in enumerate(zip(sentences, terms_of)):
            words = {w for w, _ in pairs}
            terms = {t for _, t in pairs}
            new_name[i] = any(m.casefold() not in lowered for m in _NAME.findall(s))
            numbers = {_normal_number(m) for m in _NUMBER.findall(s)} - {""}
            new_number[i] = bool(numbers - asked.numbers)
            if asked.names:
                names_missing[i] = len(asked.names - words) / len(asked.names)
            if asked.numbers:
                numbers_missing[i] = len(asked.numbers - numbers) / len(asked.numbers)
            if mass > 0:
                match = np.fromiter((t in terms for t in asked_terms), dtype=np.float64,
                                    count=len(asked_terms))
                if q_soft is not None and pairs:
                    sentence_vectors = table[[row[w] for w, _ in pairs]]
                    if not match.all():
                        closeness = (q_soft[match == 0] @ sentence_vectors.T).max(axis=1)
                        match[match == 0] = np.clip((closeness - _FLOOR) / (1 - _FLOOR), 0, 1)
                    mean = sentence_vectors.sum(axis=0)
                    norm = float(np.linalg.norm(mean))
                    semantic[i] = float(mean @ q_mean) / norm if norm > 0 else 0.0
                soft[i] = float(match @ asked.weights) / mass
        return {"new_type": (new_type.astype(np.float64) if new_type is not None
                             else np.zeros(n)),
                "new_name": new_name, "new_number": new_number,
                "names_missing": names_missing, "numbers_missing": numbers_missing,
                "soft_match": soft, "semantic": semantic}
