"""Extractive answering: the sentence of the corpus that best answers a question.

The answerer runs the steps of ``retrieval.answer`` in order: it reads the question's terms
and cues, ranks the best passages by their BM25-weighted score and then their answerable
sentences by their own score blended with their passage's (times the cues' factors), folds
near-duplicates together, estimates for each candidate the probability that it answers the
question (its confidence) and answers only when the best one's confidence reaches
``answer.min_confidence``. It returns one ``Result``; adapters only format it."""
from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Annotated

import numpy as np
from pydantic import ConfigDict, Field

from retrieval.answer.candidates import Candidates, candidates_of, combine
from retrieval.answer.confidence import ConfidenceModel, load_model
from retrieval.answer.cues import (AnswerType, QuestionCues, asks_reaction, date_factor,
                                   narrowed, negated, read_cues, type_matches)
from retrieval.answer.decide import NOT_SURE, decide
from retrieval.answer.detail import DetailReader
from retrieval.answer.features import TYPES_READ, candidate_features
from retrieval.answer.fold import MAX_FOLD_WINDOW, fold_duplicates  # noqa: F401 (re-exported)
from retrieval.answer.passages import PassageSearcher, Searcher
from retrieval.answer.semantic import WordVectors, shipped_vectors
from retrieval.answer.query import Query, read_query
from retrieval import conversation as conversations
from retrieval.conversation import (ContextQuery, Conversation, ConversationSettings,
                                    SentenceRef, Turn, read_in_context)
from retrieval.corpus import Article
from retrieval.dates import PartialDate
from retrieval.errors import QuestionError
from retrieval.index import FirstStage, TfidfIndex

# The confidence below which the bot says the articles do not answer: chosen by
# benchmarks/train_confidence.py on its training data (see benchmarks/README.md).
MIN_CONFIDENCE = 0.66
VAGUE = ("The question is too vague to search for: it has no words beyond ones like "
         "\"what\", \"was\" or \"that\", or is a single word. Ask a whole question about "
         "something the articles might report (following up on an earlier answer is a "
         "conversation feature).")
NOT_IN_ARTICLES = "None of the words of the question appear in the articles."
# "Why"/"how did X react": the passages after the REACTION_PASSAGES best are read too, and a
# sentence right after a candidate scores at least REACTION_CARRY times that one's score.
REACTION_PASSAGES = 3
REACTION_CARRY = 0.8
# The best candidates by score that the model orders and estimates the confidence of.
RERANKED = 15
TOP_K_MAX = 50           # the most answers one question may rank (answer.top_k, --top-k, :k)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class AnswerSettings:
    """Tunables of the answerer (the ``[answer]`` table of the config)."""

    __pydantic_config__ = ConfigDict(extra="forbid")

    top_k: Annotated[int, Field(ge=1, le=TOP_K_MAX)] = 3
    min_confidence: Annotated[float, Field(ge=0.0, le=1.0)] = MIN_CONFIDENCE
    candidate_passages: Annotated[int, Field(ge=1, le=10_000)] = 30
    reranked: Annotated[int, Field(ge=1, le=TOP_K_MAX)] = RERANKED
    sentence_weight: Annotated[float, Field(ge=0.0, le=1.0)] = 0.6
    duplicate_similarity: Annotated[float, Field(gt=0.0, le=1.0)] = 0.8
    year_boost: Annotated[float, Field(ge=0.0)] = 0.3
    recency_boost: Annotated[float, Field(ge=0.0)] = 0.15
    type_boost: Annotated[float, Field(ge=0.0)] = 0.1
    description_boost: Annotated[float, Field(ge=0.0)] = 0.5
    answer_types: tuple[AnswerType, ...] = ("date", "number", "description")
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
    score: float              # the BM25-weighted ranking score (not a probability)
    before: str | None
    after: str | None
    paragraph: str
    also_in: tuple[SourceRef, ...] = ()
    confidence: float = 0.0   # the probability that this sentence answers the question
    start: int | None = None   # text == article text[start:end]
    end: int | None = None


@dataclass(frozen=True)
class ContextUse:
    """How a conversation shaped a result: the question was read as a follow-up to
    ``follows`` because of ``reason`` (a pronoun without its referent, an ellipsis, too few
    words of its own), with the earlier questions' terms and the names its pronoun may point
    at ``carried`` and a preference for the conversation's articles."""

    follows: str
    carried: tuple[str, ...]
    articles: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True)
class Result:
    """What the bot says to a question: an answer or none, ranked alternatives, a message
    (with ``unavailable``: why the question could not be answered now, to ask again)."""

    question: str
    answer: Answer | None
    alternatives: tuple[Answer, ...] = ()
    message: str = ""
    context: ContextUse | None = None   # how a conversation was used; None: read alone
    turn: Turn | None = None            # inside a conversation: what to add to it
    unavailable: bool = False           # a part of the index (a shard) did not answer

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


@dataclass(frozen=True, eq=False)
class Scored:
    """A candidate after every step: its sentence, ranking score, features and confidence,
    and the other articles reporting the same sentence (article numbers)."""

    sentence_id: int
    score: float
    features: np.ndarray
    confidence: float
    others: tuple[int, ...]


@dataclass
class Answerer:
    """Answers questions from a ``TfidfIndex`` and its articles (by default the index's own
    article store, read by offset: only the articles quoted are decoded).

    ``first_stage`` finds a question's best passages (default: a ``PassageSearcher`` over the
    whole index); a cluster coordinator (``retrieval.cluster``) passes one that fans the
    question out to its shards and merges their passages (global passage numbers of the same
    commit), and every later step is the same."""

    index: TfidfIndex
    articles: Sequence[Article] | None = None
    settings: AnswerSettings = field(default_factory=AnswerSettings)
    model: ConfidenceModel = field(default_factory=load_model)
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    first_stage: Searcher | None = None
    vectors: WordVectors | None = field(default_factory=shipped_vectors)

    def __post_init__(self) -> None:
        self._detail = DetailReader(self.index.analyzer, self.vectors)
        live = self.index.live_passages
        self._live_passages = int(self.index.n_passages if live is None else np.count_nonzero(live))
        self._first_stage: Searcher = (self.first_stage if self.first_stage is not None
                                       else PassageSearcher(self.index))
        if self.articles is None:
            self.articles = self.index.articles_
        store = self.index.articles_
        self._ordinals = store.ordinals
        self._years = store.years
        self._source_codes = store.source_codes
        self._source_names = [name.casefold() for name in store.source_names]

    @cached_property
    def _article_number(self) -> dict[str, int]:
        """The number of each live article, by id (built on first use: a conversation)."""
        live = self.index.articles_.live
        return {a: i for i, a in enumerate(self.index.article_ids_)
                if live is None or live[i]}

    def ask(self, question: str, top_k: int | None = None,
            filters: Filters | None = None, conversation: Conversation | None = None,
            now: float | None = None) -> Result:
        """Answer ``question`` with up to ``top_k`` ranked answers (the answer and its
        alternatives). Inside a ``conversation`` (asked at ``now``, seconds since the epoch)
        a follow-up is read in its context, and the result holds the turn to add to it.
        Raises ``QuestionError`` for an empty or oversized question."""
        k = max(1, top_k if top_k is not None else self.settings.top_k)
        text = clean_question(question, self.settings.max_question_chars)
        analysed = self.index.analyzer(text)     # once, for the query and its vector
        query = read_query(self.index, text, analysed)
        result = self._answer(question, text, query, None, filters, k, analysed)
        if conversation is None:
            return result
        return self._in_conversation(result, text, query, analysed, conversation,
                                     time.time() if now is None else now, filters, k)

    def _in_conversation(self, alone: Result, text: str, query: Query,
                         analysed: Sequence[str], conversation: Conversation, now: float,
                         filters: Filters | None, k: int) -> Result:
        """The result of a question asked inside ``conversation`` (``alone``: its result
        read alone), with the turn to add to it. A question that leans on the conversation
        (``context_need``) is read in its context, unless its own words confidently find
        another article (a new topic); one that stands on its own is answered alone, and
        read in context only when alone it found no confident answer and in context it
        answers from the article of the previous answer. A question standing on its own,
        answered from another article than the conversation's main one, starts the
        conversation again."""
        settings, analyzer = self.conversation, self.index.analyzer
        active = conversation.active(now, settings)
        need = (conversations.context_need(
                    analyzer.words(text), analyzer.words(text, keep_case=True),
                    [t for t in analysed if t not in self._noise],
                    [t for turn in active.turns for t in turn.terms + turn.said], settings,
                    lambda word: conversations.phrase_before(active.turns[-1].question, word,
                                                             analyzer))
                if active.turns and settings.enabled else None)
        context = read_in_context(text, analysed, active, now, settings, need=need,
                                  noise=self._noise)
        evidence = conversations.article_evidence(self._first_stage, self.index,
                                                  self.index.article_ids_, context, settings)
        result, new_topic = alone, False
        if context.uses_context:
            new_topic = conversations.opens_new_topic(
                alone.answer.article_id if alone.answer else None, context, evidence, settings)
            if not new_topic:   # its own words alone are no reading of it
                result = self._answer(alone.question, text, query, context, filters, k,
                                      analysed)
        elif active.turns and settings.enabled and alone.answer is None and (
                active.turns[-1].answered is not None):
            leaning = read_in_context(text, analysed, active, now, settings,
                                      need=conversations.OWN_READING_UNSURE, noise=self._noise)
            in_context = self._answer(alone.question, text, query, leaning, filters, k,
                                      analysed)
            if in_context.answer is not None and (
                    in_context.answer.article_id == active.turns[-1].answered.article_id):
                result, context = in_context, leaning
        if not context.uses_context:
            main = conversations.main_article(active)
            new_topic = (main is not None and result.answer is not None
                         and result.answer.article_id != main)
        best = result.answer
        answered = (SentenceRef(best.article_id, best.start, best.end)
                    if best is not None and best.start is not None and best.end is not None
                    else None)
        # What the next question may point at: the answer, or the closest sentence shown.
        shown = result.ranked[0].text if result.ranked else ""
        return replace(result, turn=Turn(
            text, context.own_terms, answered, now, evidence, new_topic,
            conversations.names_in(analyzer.words(shown, keep_case=True), analyzer),
            tuple(dict.fromkeys(analyzer(shown)))))

    @cached_property
    def _noise(self) -> frozenset[str]:
        """Terms a conversation never carries (auxiliaries the stop list keeps)."""
        return conversations.noise_terms(self.index.analyzer)

    def _answer(self, question: str, text: str, query: Query, context: ContextQuery | None,
                filters: Filters | None, k: int, analysed: Sequence[str]) -> Result:
        """The result for ``query`` alone (its vector counted from ``analysed``, the terms of
        ``text``, as ``index.query_vector`` counts them), or read in ``context`` (a
        conversation's follow-up: scored with the carried terms and the preferred articles,
        and its confidence estimated for the question with its carried terms, or for its own
        words alone when it names a word no article holds)."""
        if context is None:
            if query.vague:
                return Result(question, None, (), VAGUE)
            if query.off_vocabulary:
                return Result(question, None, (), NOT_IN_ARTICLES)
            term_ids, weights = self.index.weighted_query_vector(Counter(analysed))
            used = None
        else:
            term_ids, weights = self.index.weighted_query_vector(context.terms)
            used = ContextUse(context.follows or "", context.carried,
                              tuple(context.article_prior), context.reason)
            if term_ids.size == 0:      # the conversation's words are in no article either
                return Result(question, None, (), NOT_IN_ARTICLES, used)
            if not query.unknown:
                query = replace(query, term_ids=term_ids, term_weights=(
                    weights / weights.max()).astype(np.float32))
        scored = self.score(text, query, term_ids, weights, self.allowed_articles(filters), k,
                            context)
        if not scored:
            filtered = filters is not None and bool(filters.source or filters.year)
            return Result(question, None, (), "The articles do not seem to cover this"
                          + (" with these filters." if filtered else "."), used)
        ranked = self._quotes(scored)
        if decide(ranked[0].confidence, self.settings.min_confidence):
            return Result(question, ranked[0], tuple(ranked[1:k]), "", used)
        return Result(question, None, tuple(ranked[:k]), NOT_SURE, used)

    # ------------------------------------------------------------------------------ scoring
    def score(self, text: str, query: Query, term_ids: np.ndarray, weights: np.ndarray,
              allowed: np.ndarray | None, k: int,
              context: ContextQuery | None = None) -> list[Scored]:
        """The ``k`` best distinct candidates of a question (``text``, its ``query`` terms and
        the scoring vector ``term_ids``/``weights``), best first, each with its confidence.
        ``allowed`` restricts the articles (a boolean per article) when given. Inside a
        conversation, its preferences (``context``) weigh the choice of passages, and the
        scores of sentences outside the preferred articles are scaled down."""
        s, index = self.settings, self.index
        articles = (conversations.article_factor(context, self._article_number,
                                                 self._years.size, self.conversation)
                    if context is not None else None)
        best = self._first_stage.best_passages(term_ids, weights, s.candidate_passages, allowed,
                                               articles)
        reaction = asks_reaction(text)
        if reaction:     # a reaction or a reason is often told in the paragraph after the event
            best = self._with_following(best)
        candidates = candidates_of(index, best, term_ids, weights)
        if candidates.size == 0:
            return []
        cues = read_cues(text)
        texts = _Texts(index, candidates.sentence_ids)   # each decoded once, when needed
        met = self._type_met(cues, texts)
        scores = combine(candidates, s.sentence_weight) * self._cue_factor(cues, candidates, met)
        if reaction:
            scores = np.maximum(scores, REACTION_CARRY * _previous_of(candidates.sentence_ids,
                                                                      scores, index))
        if articles is not None:
            # Preferred articles keep their scores, the others' are scaled down (so a score
            # stays a share of the question matched, and the order agrees with it).
            ids = candidates.sentence_ids
            scores = scores * (articles / articles.max())[index.sentence_article_[ids]] * \
                conversations.sentence_factor(context, ids, index, self._article_number,
                                              self.conversation)
        order = np.argsort(-scores, kind="stable")
        ids = candidates.sentence_ids[order]
        # The best ``reranked`` distinct candidates are ordered by the model's ranker and
        # their confidence estimated; the margin to the runner-up is a feature: at least two.
        kept = fold_duplicates(index, ids, max(k, s.reranked, 2), s.duplicate_similarity,
                               candidates.rows, candidates.positions[order])
        rows = order[[f.row for f in kept]]
        sentence_ids = candidates.sentence_ids[rows]
        # The features read the types of TYPES_READ (no description): the ranking's flags
        # when the question asks for one of those, else their own.
        read = narrowed(cues, text, TYPES_READ)
        sentence_texts = texts.of(rows)
        type_met = (met[rows] if met is not None and read.answer_type == cues.answer_type
                    else type_matches(read, sentence_texts))
        # A negation matters only when the question holds one: sentences are not read else.
        negation_unmet = (~negated(sentence_texts) if cues.negated
                          else np.zeros(rows.size, dtype=bool))
        detail = self._detail.features(text, read, self._detail.question(text, self._idf_of),
                                       sentence_texts)
        features = candidate_features(
            index, query, sentence_ids, candidates.sentence_scores[rows],
            candidates.passage_scores[rows], scores[rows], type_met, negation_unmet,
            (candidates.sentences, candidates.positions[rows], candidates.passages[rows]),
            detail, reaction_asked=reaction,
            previous_scores=self._previous_scores(sentence_ids, term_ids, weights),
            live_passages=self._live_passages)
        confidence = self.model.probability(features)
        # The ranker is fitted on questions read alone: a follow-up read in its context keeps
        # the order of its scores, which weigh the conversation's articles and sentences.
        key = self.model.order_key(features, confidence) if context is None else -np.arange(
            confidence.size, dtype=np.float64)
        best = np.argsort(-key, kind="stable")[:k]
        return [Scored(int(sentence_ids[i]), float(scores[rows[i]]), features[i],
                       float(confidence[i]), kept[i].others) for i in best.tolist()]

    def _with_following(self, best: FirstStage) -> FirstStage:
        """``best`` with the passage after each of its ``REACTION_PASSAGES`` best in the same
        article (scored 0: it is read for its sentences, which follow the event's)."""
        index = self.index
        top = np.asarray(best.passage_ids, dtype=np.int64)
        scores = np.asarray(best.scores)
        lead = top[np.argsort(-scores, kind="stable")[:REACTION_PASSAGES]]
        after = lead + 1
        after = after[after < index.n_passages]
        after = after[(index.passage_article_[after] == index.passage_article_[after - 1])
                      & ~np.isin(after, top)]
        if after.size == 0:
            return best
        return FirstStage(np.concatenate([top, after]),
                          np.concatenate([scores, np.zeros(after.size, dtype=scores.dtype)]))

    def _previous_scores(self, sentence_ids: np.ndarray, term_ids: np.ndarray,
                         weights: np.ndarray) -> np.ndarray:
        """The sentence score of the sentence before each of ``sentence_ids`` in its article
        (0 for an article's first): a reaction or a reason follows the event's sentence."""
        index = self.index
        before, same = _before_in_article(sentence_ids, index)
        out = np.zeros(sentence_ids.size)
        if same.any():
            out[same] = index.sentence_scores(before[same], term_ids, weights)
        return out

    def _idf_of(self, terms: Sequence[str]) -> np.ndarray:
        """The idf of each term (the rarest idf for a term no passage holds)."""
        ids = self.index.lookup(list(terms))
        idf = self.index.idf_[np.maximum(ids, 0)].astype(np.float64)
        return np.where(ids >= 0, idf, self.index.rarest_idf)

    def allowed_articles(self, filters: Filters | None) -> np.ndarray | None:
        """Which articles the filters allow (None when there are no filters)."""
        if filters is None or (not filters.source and not filters.year):
            return None
        ok = np.ones(self._years.size, dtype=bool)
        if filters.source:
            wanted = filters.source.casefold()
            ok &= np.isin(self._source_codes, [i for i, name in enumerate(self._source_names)
                                               if name == wanted])
        if filters.year:
            ok &= self._years == filters.year
        return ok

    def _type_boost(self, cues: QuestionCues) -> float:
        """The ranking's boost for a sentence holding what the question's answer type asks
        for (0: the type is not boosted)."""
        s = self.settings
        if cues.answer_type not in s.answer_types:
            return 0.0
        return s.description_boost if cues.answer_type == "description" else s.type_boost

    def _type_met(self, cues: QuestionCues, texts: "_Texts") -> np.ndarray | None:
        """Which candidates hold what the question's answer type asks for, when the ranking
        boosts that type (None when it does not)."""
        return type_matches(cues, texts.of(None)) if self._type_boost(cues) else None

    def _cue_factor(self, cues: QuestionCues, candidates: Candidates,
                    met: np.ndarray | None) -> np.ndarray:
        """The date cues' factor times ``1 + type_boost`` (``1 + description_boost`` for a
        sentence describing the X of "Who is X?") for sentences holding what the
        question's answer type asks for (``met``, from ``_type_met``)."""
        s = self.settings
        articles = self.index.sentence_article_[candidates.sentence_ids]
        factor = date_factor(cues, self._years[articles], self._ordinals[articles],
                             s.year_boost, s.recency_boost)
        if met is not None:
            factor = factor * np.where(met, 1.0 + self._type_boost(cues), 1.0)
        return factor

    def _quotes(self, scored: Sequence[Scored]) -> list[Answer]:
        """The answers of the candidates ``scored``: each sentence quoted from its article
        with its neighbours in the same article, its paragraph and the other articles
        reporting it (the spans of all of them read at once, as Python numbers)."""
        index = self.index
        sids = np.fromiter((c.sentence_id for c in scored), dtype=np.int64, count=len(scored))
        # each sentence's neighbours (itself at the ends of the index)
        around = np.clip(sids[:, None] + np.arange(-1, 2), 0, index.n_sentences - 1)
        articles = index.sentence_article_[around].tolist()
        starts = index.sentence_start_[around].tolist()
        ends = index.sentence_end_[around].tolist()
        passages = index.sentence_passage_[sids]
        paragraphs = zip(index.passage_start_[passages].tolist(),
                         index.passage_end_[passages].tolist())
        info = index.articles_.info
        answers = []
        for c, sid, (lo, hi), near, first, last in zip(scored, sids.tolist(), paragraphs,
                                                        articles, starts, ends):
            number = near[1]
            article = self.articles[number]   # type: ignore[index]
            text = article.text
            neighbours = [text[first[i]:last[i]] if near[i] == number and around_ok else None
                          for i, around_ok in ((0, sid > 0),
                                               (2, sid + 1 < index.n_sentences))]
            start, end = first[1], last[1]
            quote = text[start:end]
            index.check_quote(sid, quote)  # verbatim only if it is the sentence indexed
            answers.append(Answer(
                text=quote, start=start, end=end,
                article_id=article.id, title=article.title, source=article.source,
                date=article.date, url=article.url, score=round(c.score, 4),
                before=neighbours[0], after=neighbours[1], paragraph=text[lo:hi],
                also_in=tuple(SourceRef(a.id, a.title, a.source, a.date, a.url)
                              for a in map(info, c.others)),
                confidence=round(c.confidence, 4)))
        return answers


def _before_in_article(sentence_ids: np.ndarray, index: TfidfIndex
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The sentence before each of ``sentence_ids``, and whether it is one of the same
    article (not for an article's first sentence)."""
    before = sentence_ids - 1
    same = before >= 0
    same[same] = (index.sentence_article_[before[same]]
                  == index.sentence_article_[sentence_ids[same]])
    return before, same


def _previous_of(sentence_ids: np.ndarray, scores: np.ndarray, index: TfidfIndex) -> np.ndarray:
    """For each candidate, the score of the sentence before it in its article when that one
    is a candidate too (else 0)."""
    order = np.argsort(sentence_ids, kind="stable")
    before, same = _before_in_article(sentence_ids, index)
    at = np.clip(np.searchsorted(sentence_ids[order], before), 0, sentence_ids.size - 1)
    return np.where(same & (sentence_ids[order][at] == before), scores[order][at], 0.0)


class _Texts:
    """The texts of some sentences, cut from their articles' texts on first use (an
    article's text is decoded once: ``Articles.text`` keeps the texts it read): ``of(rows)``
    gives those of the given positions (all with None)."""

    def __init__(self, index: TfidfIndex, sentence_ids: np.ndarray) -> None:
        self._index, self._ids = index, sentence_ids
        self._texts: list[str | None] = [None] * sentence_ids.size

    def of(self, rows: np.ndarray | None) -> list[str]:
        index, texts = self._index, self._texts
        positions = range(len(texts)) if rows is None else rows.tolist()
        missing = [p for p in positions if texts[p] is None]
        if missing:
            ids = self._ids[missing]
            number, text = -1, ""    # a passage's sentences follow each other: read once
            for p, a, b, e in zip(missing, index.sentence_article_[ids].tolist(),
                                  index.sentence_start_[ids].tolist(),
                                  index.sentence_end_[ids].tolist()):
                if a != number:
                    number, text = a, index.articles_.text(a)
                texts[p] = text[b:e]
        return [texts[p] for p in positions]  # type: ignore[misc]
