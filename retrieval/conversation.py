"""Conversations: follow-up questions read in the context of the earlier turns.

A ``Conversation`` is a small frozen record of the last few turns (each question's analysed
terms, the sentence it was answered with, the articles its own words matched, and when) and
a bounded tally of the articles it has been about. It is data: the adapters own one per REPL
session, Discord user and channel, or batch conversation id, and pass it to the answerer with
each question; the answerer returns the ``Turn`` to add to it (``Result.turn``) and keeps
nothing.

``context_need`` decides whether a question leans on the conversation at all, and says why
(a pronoun or demonstrative without its referent, an ellipsis such as "what about Kerry?" or
"and in 2013?", too few words of its own); a question that stands on its own is answered
alone. ``read_in_context`` is the pure function that turns a question that leans on the
conversation into what is scored (a ``ContextQuery``): the question's own terms at full
weight, the earlier questions' terms decayed by how many turns ago they were asked, what its
pronoun refers to (the names of the previous answer's sentence), a preference for the
articles the conversation has been about, and the previous answer's sentence (for "why?" and
"how did they react?", the sentences after it). The functions at the end are the pieces the
answerer scores a ``ContextQuery`` with.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import ConfigDict, Field

from retrieval.answer.cues import asks_reaction

if TYPE_CHECKING:
    from retrieval.analysis import Analyzer
    from retrieval.answer.passages import Searcher
    from retrieval.index import TfidfIndex

# "What else did he say?", "Any other reasons?": the question wants something not yet answered.
_ASKS_ELSE = re.compile(r"\b(else|other|another|besides|apart from)\b", re.IGNORECASE)

# Words that point at something said before (case-folded, before stop words are dropped).
_PERSONAL = frozenset({"he", "him", "his", "himself", "she", "her", "hers", "herself", "they",
                       "them", "their", "theirs", "themselves"})
_THING = frozenset({"it", "its", "itself", "this", "these", "those"})
_AFTER_BE = frozenset({"is", "was", "are", "were", "be", "been", "being", "s"})
# "that" points back at the end of a question or after these ("before that", "was that")...
_BEFORE_THAT = frozenset({"about", "after", "before", "since", "of", "with", "for", "from", "to",
                          "by", "on", "at", "in", "like", "is", "was", "were", "are", "did",
                          "does", "do", "than"}) | _AFTER_BE
# ..."this year" and "these days" are the asker's own time, not the conversation's.
_OWN_TIME = frozenset({"year", "week", "month", "morning", "evening", "time", "days", "weekend"})
_ELLIPSIS_START = (("and",), ("but",), ("also",), ("so",), ("what", "about"), ("how", "about"),
                   ("what", "else"), ("who", "else"), ("anything", "else"))
_QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "when", "where", "which", "why",
                             "how"})
# Auxiliaries that survive the stop list ("does" is stemmed "doe"): never carried.
_AUXILIARIES = ("did", "does", "doing", "has", "had", "having", "would", "could", "will")


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
    min_own_terms: Annotated[int, Field(ge=0, le=10)] = 2
    referent_weight: Annotated[float, Field(ge=0.0)] = 0.25
    max_referents: Annotated[int, Field(ge=0, le=20)] = 3
    reaction_boost: Annotated[float, Field(ge=0.0)] = 0.5


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
    names: tuple[str, ...] = ()   # the analysed names of its answer's sentence (what "he",
    #                               "it" or "there" of the next question may point at)
    said: tuple[str, ...] = ()    # the analysed terms of its answer's sentence


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
class ContextNeed:
    """Why a question is read in the conversation's context, for people (``reason``: "pronoun
    'he'", "ellipsis 'what about'", ...), and the pronoun it leans on ("" for none)."""

    reason: str
    pronoun: str = ""
    phrase: tuple[str, ...] = ()   # "the button": the words that named it before ("reset")


# A question that stands on its own, read in context all the same (``Answerer.ask``).
OWN_READING_UNSURE = ContextNeed("alone it found no confident answer")


@dataclass(frozen=True)
class ContextQuery:
    """What a question is scored with inside a conversation.

    ``terms``: term -> weight, the question's own terms at their counts, the earlier turns'
    terms decayed; ``own_terms``: the question's own terms; ``carried``: the earlier terms
    added, for people; ``article_prior``: article id -> preference in (0, 1]; ``anchor``: the
    sentence the previous question was answered with; ``follows``: that question; ``avoid``:
    the sentences already answered, when the question asks for something else; ``reason``:
    why the question was read in context (``context_need``); ``after_anchor``: it asks why
    or how someone reacted, so the sentences after the anchor are preferred."""

    terms: Mapping[str, float]
    own_terms: tuple[str, ...]
    carried: tuple[str, ...] = ()
    article_prior: Mapping[str, float] = field(default_factory=dict)
    anchor: SentenceRef | None = None
    follows: str | None = None
    avoid: tuple[SentenceRef, ...] = ()
    reason: str = ""
    after_anchor: bool = False

    @property
    def uses_context(self) -> bool:
        return bool(self.carried or self.article_prior)


def _counts(terms: Iterable[str]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for term in terms:
        counts[term] = counts.get(term, 0.0) + 1.0
    return counts


def context_need(words: Sequence[str], cased: Sequence[str], own_terms: Sequence[str],
                 earlier_terms: Iterable[str], settings: ConversationSettings,
                 phrase_of: Callable[[str], tuple[str, ...]] = lambda word: ()
                 ) -> ContextNeed | None:
    """Why a question leans on the conversation, for people ("pronoun 'he'", "ellipsis 'what
    about'", "'the law' said before", "one word of its own"), or None when it stands on its
    own: it is then answered alone. ``words`` are the question's words case-folded (stop
    words kept), ``cased`` the same words as typed, ``own_terms`` its analysed terms (less
    ``noise_terms``) and ``earlier_terms`` those of the conversation so far (its questions
    and the sentences shown for them).

    A personal pronoun ("he", "their") has its referent in the question when a capitalised
    word comes before it ("What did Lavrov say when he met Kerry?"); "that" points back at
    the end of a question or after a preposition or a form of "be"/"do" ("before that",
    "was that"), and "this year" is the asker's own time; "there" is not the "there" of
    "is there"; "why?" and "how did Moscow react?" lean when they have at most
    ``min_own_terms`` words (a reaction to what?); "the X" leans when X was said before and
    the question adds fewer than ``min_own_terms`` new words ("who signed the law?"); it is
    then read as if it said the words that named X before (``phrase_of(word)``: "dima
    yakovlev" of "the law")."""
    n = len(words)
    for start in _ELLIPSIS_START:
        if tuple(words[:len(start)]) == start and n > len(start):
            return ContextNeed(f"ellipsis '{' '.join(start)}'")
    for i, word in enumerate(words):
        before = words[i - 1] if i else ""
        after = words[i + 1] if i + 1 < n else ""
        if ((word in _PERSONAL and not _named_before(words, cased, i))
                or (word in _THING and not (word != "it" and after in _OWN_TIME))
                or (word == "that" and (i == n - 1 or before in _BEFORE_THAT))
                or (word == "there" and not (after in _AFTER_BE or before in _AFTER_BE
                                             or after == "been"))
                or (word == "then" and i > 0)):
            return ContextNeed(f"pronoun '{word}'", word)
    own = [t for t in dict.fromkeys(own_terms)]
    if asks_reaction(" ".join(words)) and len(own) <= settings.min_own_terms:
        return ContextNeed("ellipsis: why, or a reaction to what")
    if len(own) < settings.min_own_terms:
        if n <= 2 and words and words[0] in _QUESTION_WORDS:
            return ContextNeed(f"ellipsis '{' '.join(words)}'")
        return ContextNeed("no word of its own" if not own else "one word of its own")
    earlier = set(earlier_terms)
    new = [t for t in own if t not in earlier]
    if len(new) < settings.min_own_terms:
        for i, word in enumerate(words[:-1]):
            if word == "the" and any(t in earlier for t in _terms_of(words[i + 1], own)):
                return ContextNeed(f"'the {words[i + 1]}' said before",
                                   phrase=phrase_of(words[i + 1]))
    return None


def phrase_before(question: str, word: str, analyzer: Analyzer) -> tuple[str, ...]:
    """The analysed words that come just before ``word`` in ``question`` up to a stop word
    (and ``word`` itself): how it was named ("dima yakovlev law" in "What is the Dima Yakovlev
    Law?"); empty when ``question`` lacks ``word``."""
    words = analyzer.words(question)
    if word not in words:
        return ()
    at = len(words) - 1 - words[::-1].index(word)
    start, stop = at, analyzer.stop_set()
    while start > 0 and words[start - 1] not in stop:
        start -= 1
    return tuple(analyzer(" ".join(words[start:at + 1])))


def _named_before(words: Sequence[str], cased: Sequence[str], at: int) -> bool:
    """Whether a name comes before word ``at``: a word written with a capital, not the first
    word and not right after a question word ("What State does he represent?")."""
    return any(cased[j][:1].isupper() and words[j - 1] not in _QUESTION_WORDS
               for j in range(1, min(at, len(cased))))


def _terms_of(word: str, own_terms: Sequence[str]) -> list[str]:
    """The analysed terms of ``own_terms`` that ``word`` may have become (its stem is a prefix
    of the word: "law" of "law", "sign" of "signed")."""
    return [t for t in own_terms if word.startswith(t[:max(3, len(t) - 1)])]


def noise_terms(analyzer: Callable[[str], list[str]]) -> frozenset[str]:
    """The terms ``analyzer`` makes of auxiliaries its stop list keeps ("did", "doe" of
    "does"): they say nothing of a topic, and are never carried."""
    return frozenset(analyzer(" ".join(_AUXILIARIES)))


def names_in(cased_words: Sequence[str], analyzer: Callable[[str], list[str]]
             ) -> tuple[str, ...]:
    """The analysed terms of the names of a sentence (its words written with a capital,
    after the first): what a later "he", "they" or "there" may point at."""
    names = " ".join(w for w in cased_words[1:] if w[:1].isupper())
    return tuple(dict.fromkeys(analyzer(names)))


def _referents(pronoun: str, last: Turn, settings: ConversationSettings) -> tuple[str, ...]:
    """What the ``pronoun`` of a question may point at in the ``last`` turn:
    for "he", "they" or "there" the names of its answer that its question asked about (else
    the first ``max_referents`` of them: a sentence's subject comes early), for "it", "that"
    or "this" the words of its question; nothing without a pronoun."""
    if not pronoun or settings.referent_weight <= 0:
        return ()
    if pronoun in _THING or pronoun == "that":
        return last.terms
    asked = tuple(name for name in last.names if name in last.terms)
    return asked or last.names[:settings.max_referents]


def read_in_context(question: str, own_terms: Iterable[str], conversation: Conversation | None,
                    now: float, settings: ConversationSettings, *, need: ContextNeed | None,
                    noise: frozenset[str] = frozenset()) -> ContextQuery:
    """The ``question`` (its analysed ``own_terms``) as scored inside ``conversation`` at
    ``now``.

    Earlier questions' terms carry weight ``decay ** age`` (age 1 for the previous turn),
    scaled so that together they weigh ``carried_share`` of the question's own weight (all of
    it when the question has no terms of its own, "When was that?"); a term the question
    asks itself keeps its own weight. Articles are preferred by the conversation's tally of
    evidence (``Conversation.topics``), sharpened by ``topic_sharpness``. A question asking
    for something else ("What else...?") avoids the sentences already answered. An empty,
    expired or disabled conversation gives the question alone.

    A question leaning on a pronoun ("he", "it", "there") also carries what it may point at
    (``_referents``), each at least at ``referent_weight``. ``need`` says why the question
    is read in context (None: it stands on its own, and is read alone); ``noise`` are terms
    never carried, nor counted as the question's own (``noise_terms``)."""
    own = tuple(own_terms)
    turns = conversation.active(now, settings).turns if conversation is not None else ()
    if not settings.enabled or not turns or need is None:
        return ContextQuery(_counts(own), own)
    mine = [t for t in own if t not in noise]     # "did" says nothing here either
    terms = _counts(mine)
    if need.phrase:     # "the button" of "the reset button": read as if it said so, alone
        named = tuple(t for t in dict.fromkeys(need.phrase) if t not in terms)
        terms.update(dict.fromkeys(named, 1.0))
        return ContextQuery(terms, own, named, follows=turns[-1].question, reason=need.reason)
    carried: dict[str, float] = {}
    prior: dict[str, float] = {}
    for age, turn in enumerate(reversed(turns), start=1):
        weight = settings.decay ** age
        if weight <= 0:           # decay 0: nothing is carried
            break
        for term in dict.fromkeys(turn.terms):   # in the order asked: stable output
            if term not in terms and term not in noise:
                carried[term] = max(carried.get(term, 0.0), weight)
    if carried:
        scale = (settings.carried_share * len(mine) / sum(carried.values())) if mine else 1.0
        carried = {term: w * scale for term, w in carried.items()}
    last = turns[-1]
    for term in _referents(need.pronoun, last, settings):
        if term not in terms and term not in noise:
            carried[term] = max(carried.get(term, 0.0), settings.referent_weight)
    terms.update(carried)
    top = max((w for _, w in conversation.topics), default=0.0)
    if top > 0:
        prior = {a: (w / top) ** settings.topic_sharpness for a, w in conversation.topics}
    avoid = (tuple(t.answered for t in turns if t.answered is not None)
             if _ASKS_ELSE.search(question) else ())
    return ContextQuery(terms, own, tuple(sorted(carried, key=carried.__getitem__, reverse=True)),
                        prior, last.answered, last.question, avoid, need.reason,
                        asks_reaction(question))


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


def main_article(conversation: Conversation) -> str | None:
    """The article the conversation has been most about (None before any evidence)."""
    return conversation.topics[0][0] if conversation.topics else None


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
    ``nearby_sentences`` after it (conversations move forward through an article); when the
    question asks why or how someone reacted, ``1 + reaction_boost`` for those after it and
    its inverse for the anchor itself (the reaction follows the event); and 0 for the
    sentences already answered when the question asks for something else."""
    factor: np.ndarray | float = 1.0
    anchor = sentence_id(index, number, query.anchor)
    if anchor is not None and (settings.nearby_boost or (settings.reaction_boost
                                                         and query.after_anchor)):
        offset = sentence_ids - anchor
        same = index.sentence_article_[sentence_ids] == index.sentence_article_[anchor]
        near = (offset >= 0) & (offset <= settings.nearby_sentences) & same
        factor = np.where(near, 1.0 + settings.nearby_boost, 1.0)
        if query.after_anchor:   # the reaction follows the event: the anchor is not it
            after = (offset >= 1) & (offset <= settings.nearby_sentences) & same
            boost = 1.0 + settings.reaction_boost
            factor = factor * np.where(after, boost, np.where(offset == 0, 1.0 / boost, 1.0))
    for ref in query.avoid:
        factor = np.where(sentence_ids == sentence_id(index, number, ref), 0.0, factor)
    return factor
