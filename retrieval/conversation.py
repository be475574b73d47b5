"""Conversations: follow-up questions read in the context of the earlier turns.

A ``Conversation`` is a small frozen record of the last few turns (each question's analysed
terms, the sentence it was answered with, the articles its own words matched, and when) and
a bounded tally of the articles it has been about. It is data: the adapters own one per REPL
session, Discord user and channel, or batch conversation id, and pass it to the answerer with
each question; the answerer returns the ``Turn`` to add to it (``Result.turn``) and keeps
nothing.

``read_in_context`` is the pure function that turns a new question plus a conversation into
what is scored (a ``ContextQuery``): the question's own terms at full weight, the earlier
questions' terms decayed by how many turns ago they were asked, a preference for the
articles the conversation has been about, and the previous answer's sentence (a bonus for it
and the sentences after it is available, ``nearby_boost``, but off: on CoQA it lowered P@1).
The functions at the end are the pieces the answerer scores a ``ContextQuery`` with.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import ConfigDict, Field

if TYPE_CHECKING:
    from retrieval.answer.passages import Searcher
    from retrieval.index import TfidfIndex

# "What else did he say?", "Any other reasons?": the question wants something not yet answered.
_ASKS_ELSE = re.compile(r"\b(else|other|another|besides|apart from)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ConversationSettings:
    """Tunables of follow-up questions (the ``[conversation]`` table of the config)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    enabled: bool = True
    max_turns: Annotated[int, Field(ge=1, le=20)] = 3
    idle_seconds: Annotated[float, Field(gt=0.0)] = 600.0
    decay: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    carried_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    article_boost: Annotated[float, Field(ge=0.0)] = 2.0
    nearby_boost: Annotated[float, Field(ge=0.0)] = 0.0
    nearby_sentences: Annotated[int, Field(ge=0, le=50)] = 1
    topic_decay: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    max_topics: Annotated[int, Field(ge=1, le=100)] = 20
    topic_sharpness: Annotated[float, Field(ge=0.0)] = 4.0
    new_topic_margin: Annotated[float, Field(ge=0.0)] = 2.0
    new_topic_evidence: Annotated[float, Field(ge=0.0)] = 12.0


@dataclass(frozen=True)
class SentenceRef:
    """A sentence of an article, by the article's id and its character span (stable across
    index rebuilds as long as the article's text is the same)."""

    article_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Turn:
    """One question of a conversation: its analysed terms (stop words dropped, stemmed), the
    sentence it was answered with (None when it got no answer), and when it was asked (seconds
    since the epoch)."""

    question: str
    terms: tuple[str, ...]
    answered: SentenceRef | None
    at: float
    articles: tuple[tuple[str, float], ...] = ()   # (article id, evidence): the best-matching
    new_topic: bool = False    # it opened a new topic: the conversation starts again from it


@dataclass(frozen=True)
class Conversation:
    """The last turns of one conversation, oldest first. Immutable: ``add`` returns a new one."""

    turns: tuple[Turn, ...] = ()
    topics: tuple[tuple[str, float], ...] = ()

    def add(self, turn: Turn, settings: ConversationSettings) -> Conversation:
        """This conversation with ``turn`` appended, keeping the last ``max_turns`` turns
        (and none that had expired before it was asked), and its articles' evidence added
        to the decayed tally of what the conversation is about (the ``max_topics`` best). A
        turn that opened a new topic starts the conversation again from itself."""
        kept = Conversation() if turn.new_topic else self.active(turn.at, settings)
        tally = {a: w * settings.topic_decay for a, w in kept.topics}
        for article, evidence in turn.articles:
            tally[article] = tally.get(article, 0.0) + evidence
        topics = sorted(tally.items(), key=lambda item: -item[1])[:settings.max_topics]
        return Conversation((kept.turns + (turn,))[-settings.max_turns:], tuple(topics))

    def active(self, now: float, settings: ConversationSettings) -> Conversation:
        """The conversation as it stands at ``now``: empty once it has been idle longer than
        ``idle_seconds``."""
        if not self.turns or now - self.turns[-1].at > settings.idle_seconds:
            return Conversation()
        return self


@dataclass(frozen=True)
class ContextQuery:
    """What a question is scored with inside a conversation.

    ``terms``: term -> weight, the question's own terms at their counts, the earlier turns'
    terms decayed; ``own_terms``: the question's own terms; ``carried``: the earlier terms
    added, for people; ``article_prior``: article id -> preference in (0, 1]; ``anchor``: the
    sentence the previous question was answered with; ``follows``: that question; ``avoid``:
    the sentences already answered, when the question asks for something else."""

    terms: Mapping[str, float]
    own_terms: tuple[str, ...]
    carried: tuple[str, ...] = ()
    article_prior: Mapping[str, float] = field(default_factory=dict)
    anchor: SentenceRef | None = None
    follows: str | None = None
    avoid: tuple[SentenceRef, ...] = ()

    @property
    def uses_context(self) -> bool:
        return bool(self.carried or self.article_prior)


def _counts(terms: Iterable[str]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for term in terms:
        counts[term] = counts.get(term, 0.0) + 1.0
    return counts


def read_in_context(question: str, own_terms: Iterable[str], conversation: Conversation | None,
                    now: float, settings: ConversationSettings) -> ContextQuery:
    """The ``question`` (its analysed ``own_terms``) as scored inside ``conversation`` at
    ``now``.

    Earlier questions' terms carry weight ``decay ** age`` (age 1 for the previous turn),
    scaled so that together they weigh ``carried_share`` of the question's own weight (all of
    it when the question has no terms of its own, "When was that?"); a term the question
    asks itself keeps its own weight. Articles are preferred by the conversation's tally of
    evidence (``Conversation.topics``), sharpened by ``topic_sharpness``. A question asking
    for something else ("What else...?") avoids the sentences already answered. An empty,
    expired or disabled conversation gives the question alone."""
    own = tuple(own_terms)
    terms = _counts(own)
    turns = conversation.active(now, settings).turns if conversation is not None else ()
    if not settings.enabled or not turns:
        return ContextQuery(terms, own)
    carried: dict[str, float] = {}
    prior: dict[str, float] = {}
    for age, turn in enumerate(reversed(turns), start=1):
        weight = settings.decay ** age
        if weight <= 0:           # decay 0: nothing is carried
            break
        for term in dict.fromkeys(turn.terms):   # in the order asked: stable output
            if term not in terms:
                carried[term] = max(carried.get(term, 0.0), weight)
    if carried:
        own_mass = float(len(own)) if own else 1.0
        scale = settings.carried_share * own_mass / sum(carried.values()) if own else 1.0
        terms.update({term: w * scale for term, w in carried.items()})
    last = turns[-1]
    top = max((w for _, w in conversation.topics), default=0.0)
    if top > 0:
        prior = {a: (w / top) ** settings.topic_sharpness for a, w in conversation.topics}
    avoid = (tuple(t.answered for t in turns if t.answered is not None)
             if _ASKS_ELSE.search(question) else ())
    return ContextQuery(terms, own, tuple(sorted(carried, key=carried.__getitem__, reverse=True)),
                        prior, last.answered, last.question, avoid)


def without_context(query: ContextQuery) -> ContextQuery:
    """The question alone: its own terms, no carried terms, no preferred articles."""
    return replace(query, terms=_counts(query.own_terms), carried=(), article_prior={},
                   anchor=None, follows=None, avoid=())


# ------------------------------------------------------------------ scoring in a conversation
# The pieces the answerer calls while it scores a ``ContextQuery``. ``number`` maps an article
# id to its position in the index.

def sentence_id(index: TfidfIndex, number: Mapping[str, int],
                ref: SentenceRef | None) -> int | None:
    """The index's sentence at ``ref`` (None when the article or the span is gone)."""
    article = number.get(ref.article_id) if ref is not None else None
    if ref is None or article is None:
        return None
    lo, hi = np.searchsorted(index.sentence_article_, [article, article + 1])
    at = lo + int(np.searchsorted(index.sentence_start_[lo:hi], ref.start))
    return at if at < hi and index.sentence_start_[at] == ref.start else None


def article_evidence(first_stage: Searcher, index: TfidfIndex,
                     article_ids: list[str] | tuple[str, ...], query: ContextQuery,
                     settings: ConversationSettings) -> tuple[tuple[str, float], ...]:
    """The ``max_topics`` articles the question's own words match best (found by
    ``first_stage``), each with the idf weight its best paragraph matches: what this question
    tells about the conversation's topic (a question of rare words tells more than one of
    common words)."""
    term_ids, weights = index.weighted_query_vector(without_context(query).terms)
    best = first_stage.best_articles(term_ids, weights, settings.max_topics,
                                     float(index.idf_[term_ids].sum()))
    return tuple((article_ids[int(a)], round(float(score), 4))
                 for a, score in zip(best.article_ids, best.scores))


def opens_new_topic(answered_article: str | None, query: ContextQuery,
                    evidence: tuple[tuple[str, float], ...],
                    settings: ConversationSettings) -> bool:
    """Whether a question confidently answered alone from ``answered_article`` opens a new
    topic: its own words match that article, not the conversation's main one, with at least
    ``new_topic_evidence`` of idf weight and ``new_topic_margin`` times as strongly as the
    main article. Such a question is not dragged back to the conversation."""
    main = max(query.article_prior, key=query.article_prior.__getitem__, default=None)
    if answered_article is None or answered_article == main:
        return False
    own = dict(evidence)
    elsewhere = own.get(answered_article, 0.0)
    return elsewhere >= settings.new_topic_evidence and elsewhere >= (
        settings.new_topic_margin * own.get(main, 0.0) if main is not None else 0.0)


def article_factor(query: ContextQuery, number: Mapping[str, int], n_articles: int,
                   settings: ConversationSettings) -> np.ndarray | None:
    """Per article, ``1 + article_boost × preference`` (None outside a conversation)."""
    if not query.article_prior:
        return None
    factor = np.ones(n_articles, dtype=np.float64)
    for article_id, prior in query.article_prior.items():
        if article_id in number:
            factor[number[article_id]] += settings.article_boost * prior
    return factor


def sentence_factor(query: ContextQuery, sentence_ids: np.ndarray, index: TfidfIndex,
                    number: Mapping[str, int], settings: ConversationSettings
                    ) -> np.ndarray | float:
    """Per candidate sentence: ``1 + nearby_boost`` for the previous answer's sentence and the
    ``nearby_sentences`` after it (conversations move forward through an article), and 0 for
    the sentences already answered when the question asks for something else."""
    factor: np.ndarray | float = 1.0
    anchor = sentence_id(index, number, query.anchor)
    if anchor is not None and settings.nearby_boost:
        offset = sentence_ids - anchor
        near = ((offset >= 0) & (offset <= settings.nearby_sentences)
                & (index.sentence_article_[sentence_ids] == index.sentence_article_[anchor]))
        factor = np.where(near, 1.0 + settings.nearby_boost, 1.0)
    for ref in query.avoid:
        factor = np.where(sentence_ids == sentence_id(index, number, ref), 0.0, factor)
    return factor
