"""Extractive answering: the sentence of the corpus that best answers a question.

The answerer ranks passages by TF-IDF cosine, scores the answerable sentences of the best
passages by their own cosine blended with their passage's, applies date cues, folds
near-duplicates together and abstains below a confidence threshold. It returns one
``Result``; adapters only format it."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field

from retrieval.corpus import Article
from retrieval.dates import PartialDate
from retrieval.errors import QuestionError
from retrieval.index import TfidfIndex

_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})\b")
_LATEST = re.compile(r"\b(latest|most recent(ly)?|newest|recent(ly)?|current(ly)?|nowadays|"
                     r"last (?:time|report|news))\b", re.IGNORECASE)
_EARLIEST = re.compile(r"\b(earliest|oldest|initially|originally|at first|first (?:time|report|"
                       r"news|mention))\b", re.IGNORECASE)
# At most this many candidates, best first, are compared for near-duplicates: the work of
# one question stays bounded however many copies of a sentence the corpus holds.
MAX_FOLD_WINDOW = 256
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Question-type cues: a question asking when wants a sentence with a date in it, one asking
# how many or how much a sentence with a number.
_ASKS_WHEN = re.compile(r"\b(when|what (?:year|century|decade|date|month|day)|which (?:year|"
                        r"century|decade))\b", re.IGNORECASE)
_ASKS_NUMBER = re.compile(r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|"
                          r"\bwhat (?:percentage|percent|number|amount)\b", re.IGNORECASE)
_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|"
           r"December")
_HAS_DATE = re.compile(r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:" + _MONTHS + r")\b|\bcentur(?:y|ies)\b")
_HAS_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
                         r"twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|"
                         r"dozens?|several)\b", re.IGNORECASE)


@dataclass(frozen=True)
class AnswerSettings:
    """Tunables of the answerer (the ``[answer]`` table of the config)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    top_k: Annotated[int, Field(ge=1, le=50)] = 3
    threshold: Annotated[float, Field(ge=0.0, le=1.0)] = 0.45
    candidate_passages: Annotated[int, Field(ge=1, le=10_000)] = 30
    sentence_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    duplicate_similarity: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    year_boost: Annotated[float, Field(ge=0.0)] = 0.3
    recency_boost: Annotated[float, Field(ge=0.0)] = 0.15
    type_boost: Annotated[float, Field(ge=0.0)] = 0.1
    max_question_chars: Annotated[int, Field(ge=10)] = 2000


@dataclass(frozen=True)
class SourceRef:
    """Another article that reports the same sentence."""

    article_id: str
    title: str
    source: str
    date: PartialDate | None
    url: str | None


@dataclass(frozen=True)
class Answer:
    """A sentence quoted verbatim from an article, with where it came from."""

    text: str
    article_id: str
    title: str
    source: str
    date: PartialDate | None
    url: str | None
    score: float
    before: str | None
    after: str | None
    paragraph: str
    also_in: tuple[SourceRef, ...] = ()


@dataclass(frozen=True)
class Result:
    """What the bot says to a question: an answer or none, ranked alternatives, a message."""

    question: str
    answer: Answer | None
    alternatives: tuple[Answer, ...] = ()
    message: str = ""

    @property
    def ranked(self) -> tuple[Answer, ...]:
        """Every candidate, best first: the answer (when there is one), then the alternatives."""
        return ((self.answer,) if self.answer is not None else ()) + self.alternatives


@dataclass(frozen=True)
class Filters:
    """Optional restrictions of the candidate articles."""

    source: str | None = None
    year: int | None = None


def clean_question(question: str, max_chars: int) -> str:
    """The question as analysed: control characters become spaces, whitespace is collapsed.
    Raises ``QuestionError`` when nothing is left or it is too long."""
    if not isinstance(question, str):
        raise QuestionError(f"a question must be text, not {type(question).__name__}")
    if any("\ud800" <= c <= "\udfff" for c in question):   # not text: cannot be analysed
        raise QuestionError("the question is not valid text (it holds a lone surrogate, or "
                            "bytes that are not UTF-8)")
    if len(question) > max_chars:
        raise QuestionError(f"the question is {len(question):,} characters long; "
                            f"the limit is {max_chars:,}")
    text = " ".join(_CONTROL.sub(" ", unicodedata.normalize("NFC", question)).split())
    if not text:
        raise QuestionError("the question is empty: type a question about the articles")
    return text


@dataclass
class Answerer:
    """Answers questions from a fitted ``TfidfIndex`` and the articles it was built from."""

    index: TfidfIndex
    articles: Sequence[Article]
    settings: AnswerSettings = field(default_factory=AnswerSettings)

    def __post_init__(self) -> None:
        dates = [a.date for a in self.articles]
        self._ordinals = np.array([d.ordinal() if d else np.nan for d in dates], dtype=np.float64)
        self._years = np.array([d.year if d else -1 for d in dates], dtype=np.int32)
        self._sources = np.array([a.source.casefold() for a in self.articles], dtype=object)

    def ask(self, question: str, top_k: int | None = None,
            filters: Filters | None = None) -> Result:
        """Answer ``question`` with up to ``top_k`` ranked answers (the answer and its
        alternatives). Raises ``QuestionError`` for an empty or oversized question."""
        k = max(1, top_k if top_k is not None else self.settings.top_k)
        text = clean_question(question, self.settings.max_question_chars)
        term_ids, weights = self.index.query_vector(text)
        if term_ids.size == 0:
            return Result(question, None, (), "None of the words of the question appear in the "
                          "articles.")
        ranked = self._rank(text, term_ids, weights, filters or Filters(), k)
        if not ranked:
            filtered = filters is not None and bool(filters.source or filters.year)
            return Result(question, None, (), "The articles do not seem to cover this"
                          + (" with these filters." if filtered else "."))
        if ranked[0].score >= self.settings.threshold:
            return Result(question, ranked[0], tuple(ranked[1:k]), "")
        return Result(question, None, tuple(ranked[:k]),
                      "No sentence in the articles answers this with enough confidence.")

    # ------------------------------------------------------------------------------ ranking
    def _rank(self, question: str, term_ids: np.ndarray, weights: np.ndarray,
              filters: Filters, k: int) -> list[Answer]:
        index, s = self.index, self.settings
        p_scores = index.passage_scores(term_ids, weights)
        allowed = self._allowed_passages(filters)
        if allowed is not None:
            p_scores = np.where(allowed, p_scores, 0.0)
        # Select among the passages holding a question term only: on a large corpus they are
        # a fraction of all, and the partial sort is the costliest step of a question.
        matched = np.flatnonzero(p_scores > 0)
        n = min(s.candidate_passages, matched.size)
        if n == 0:
            return []
        top = (matched[np.argpartition(-p_scores[matched], n - 1)[:n]] if n < matched.size
               else matched)
        starts, ends = index.passage_first_sentence_[top], index.passage_first_sentence_[top + 1]
        sentence_ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        sentence_ids = sentence_ids[index.sentence_answerable_[sentence_ids]]
        if sentence_ids.size == 0:
            return []
        s_cos = index.sentence_scores(sentence_ids, term_ids, weights)
        p_cos = p_scores[index.sentence_passage_[sentence_ids]]
        scores = s.sentence_weight * s_cos + (1.0 - s.sentence_weight) * p_cos
        scores = scores * self._date_factor(question, index.sentence_article_[sentence_ids])
        scores = scores * self._type_factor(question, sentence_ids)
        order = np.argsort(-scores, kind="stable")
        return self._fold_duplicates(sentence_ids[order], scores[order], k)

    def _allowed_passages(self, filters: Filters) -> np.ndarray | None:
        if not filters.source and not filters.year:
            return None
        ok = np.ones(len(self.articles), dtype=bool)
        if filters.source:
            ok &= self._sources == filters.source.casefold()
        if filters.year:
            ok &= self._years == filters.year
        return ok[self.index.passage_article_]

    def _date_factor(self, question: str, article_ids: np.ndarray) -> np.ndarray:
        factor = np.ones(article_ids.size, dtype=np.float64)
        years = {int(y) for y in _YEAR.findall(question)}
        if years:
            factor *= np.where(np.isin(self._years[article_ids], list(years)),
                               1.0 + self.settings.year_boost, 1.0)
        latest, earliest = bool(_LATEST.search(question)), bool(_EARLIEST.search(question))
        if latest != earliest:
            ordinals = self._ordinals[article_ids]
            known = ~np.isnan(ordinals)
            if known.sum() > 1:
                lo, hi = np.nanmin(ordinals), np.nanmax(ordinals)
                position = np.where(known, (ordinals - lo) / max(hi - lo, 1.0), 0.5)
                if earliest:
                    position = 1.0 - position
                factor *= 1.0 + self.settings.recency_boost * position
        return factor

    def _type_factor(self, question: str, sentence_ids: np.ndarray) -> np.ndarray | float:
        """``1 + type_boost`` for sentences holding what the question type asks for (a date
        for "when", a number for "how many"), else 1."""
        boost = self.settings.type_boost
        pattern = (_HAS_DATE if _ASKS_WHEN.search(question)
                   else _HAS_NUMBER if _ASKS_NUMBER.search(question) else None)
        if not boost or pattern is None:
            return 1.0
        index = self.index
        texts = (self.articles[a].text[b:e] for a, b, e in zip(
            index.sentence_article_[sentence_ids], index.sentence_start_[sentence_ids],
            index.sentence_end_[sentence_ids]))
        return np.fromiter((1.0 + boost if pattern.search(t) else 1.0 for t in texts),
                           dtype=np.float64, count=sentence_ids.size)

    def _fold_duplicates(self, sentence_ids: np.ndarray, scores: np.ndarray,
                         k: int) -> list[Answer]:
        """Keep the best of each group of near-identical sentences, naming the other articles
        that report it; stop once ``k`` distinct answers are found."""
        # Cosines are computed among the best ``window`` candidates at once (one sparse
        # product); the window doubles when its candidates run out before k distinct ones,
        # up to MAX_FOLD_WINDOW (fewer than k answers beyond it).
        sentence_ids, scores = sentence_ids[:MAX_FOLD_WINDOW], scores[:MAX_FOLD_WINDOW]
        window = 2 * k + 10
        while True:
            rows = min(window, sentence_ids.size)
            vectors = self.index.sentence_terms(sentence_ids[:rows])
            similar = (vectors @ vectors.T).toarray() >= self.settings.duplicate_similarity
            kept: list[int] = []          # rows of the kept sentences, best first
            also: list[list[int]] = []    # for each kept row, the other articles reporting it
            complete = False
            for row in range(rows):
                duplicate_of = next((j for j, kept_row in enumerate(kept)
                                     if similar[kept_row, row]), None)
                if duplicate_of is None:
                    if len(kept) == k:
                        complete = True
                        break
                    kept.append(row)
                    also.append([])
                    continue
                article = int(self.index.sentence_article_[sentence_ids[row]])
                first = int(self.index.sentence_article_[sentence_ids[kept[duplicate_of]]])
                if article != first and article not in also[duplicate_of]:
                    also[duplicate_of].append(article)
            if complete or rows == sentence_ids.size:
                break
            window *= 2
        return [self._answer(int(sentence_ids[row]), float(scores[row]), others)
                for row, others in zip(kept, also)]

    def _answer(self, sid: int, score: float, others: list[int]) -> Answer:
        index = self.index
        article = self.articles[int(index.sentence_article_[sid])]
        passage = int(index.sentence_passage_[sid])

        def sentence(i: int) -> str | None:
            if 0 <= i < index.n_sentences and index.sentence_article_[i] == index.sentence_article_[sid]:
                return article.text[index.sentence_start_[i]:index.sentence_end_[i]]
            return None

        quote = article.text[index.sentence_start_[sid]:index.sentence_end_[sid]]
        index.check_quote(sid, quote)  # verbatim only if it is the sentence indexed
        return Answer(
            text=quote,
            article_id=article.id, title=article.title, source=article.source,
            date=article.date, url=article.url, score=round(score, 4),
            before=sentence(sid - 1), after=sentence(sid + 1),
            paragraph=article.text[index.passage_start_[passage]:index.passage_end_[passage]],
            also_in=tuple(SourceRef(a.id, a.title, a.source, a.date, a.url)
                          for a in (self.articles[i] for i in others)),
        )
