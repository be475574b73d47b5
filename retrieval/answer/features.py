"""Step 5: features of candidate sentences, for the confidence model.

Every feature is a share, a ratio to the largest possible idf, or a count of the question's
own words, so none grows with the corpus: a model fitted on one corpus reads the same on
another; one says how large the corpus is (``corpus_size``): the same score is surer among
five articles than among thousands, where more stories share the question's words. (Whether
an article is dated and how old it is were tried and left out: they told the model which
data set a question came from, the news quizzes' articles being dated and their questions
hard, and it learned to distrust every dated corpus, the bundled articles among them.)
Scores are the BM25-weighted share of the question matched (see ``retrieval.index``)."""
from __future__ import annotations

import numpy as np

from retrieval.answer.candidates import PassageSentences, passage_sentences
from retrieval.answer.cues import AnswerType
from retrieval.answer.detail import DETAIL_FEATURES
from retrieval.answer.query import Query
from retrieval.index import TfidfIndex

FEATURES: tuple[str, ...] = (
    "sentence_score",         # BM25-weighted share of the question the sentence matches
    "passage_score",          # ... its passage matches
    "score",                  # the ranking score (their blend, with the cues)
    "margin",                 # score less the best other candidate's (negative below the top)
    "matched_share",          # share of the idf mass of the question's known terms the sentence holds
    "passage_matched_share",  # ... the passage holds
    "missing_idf",            # largest idf of a known question term the sentence lacks / largest idf
    "passage_missing_idf",    # ... the passage lacks
    "unknown_share",          # share of the question's terms that no passage holds
    "unknown_name_share",     # ... of them written with a capital (a name the corpus lacks)
    "mean_idf",               # mean idf of the question's known terms / largest idf (specificity)
    "question_terms",         # log(1 + distinct terms of the question)
    "type_asked",             # the question asks for a date, number, person or place
    "type_met",               # ... and the sentence holds one
    "negation_unmet",         # the question holds a negation and the sentence none
    "answer_room",            # share of the sentence's terms that are not the question's
    "position",               # the sentence's place in its article: log(1 + n) / log(51), at most 1
    "rank",                   # its place in the ranking by score: log(1 + r) / log(1 + MAX_RANK)
    "reaction_asked",         # the question asks why, or how someone reacted
    "previous_score",         # the sentence score of the sentence before it in its article
    "corpus_size",            # log10 of the index's passages / 6, at most 1 (five articles: 0.3)
) + DETAIL_FEATURES
MAX_RANK = 50


# The answer types type_asked and type_met read (a "Who is X?" description is a ranking cue
# only: the model was trained without it).
TYPES_READ: tuple[AnswerType, ...] = ("date", "number", "person", "place")


def term_presence(sentences: PassageSentences, positions: np.ndarray, passages: np.ndarray,
                  term_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``term_ids`` (distinct) each sentence holds, and which its whole passage
    holds (two boolean matrices, a row per sentence), for the sentences at ``positions`` of
    ``sentences`` whose passages are ``passages`` (their places in ``sentences``)."""
    held = sentences.rows.columns(term_ids) > 0          # every sentence of the passages
    # Running counts of each term's sentences: a passage holds a term when its count grows
    # between the passage's first sentence and its last.
    running = np.zeros((held.shape[0] + 1, held.shape[1]), dtype=np.int32)
    np.cumsum(held, axis=0, out=running[1:])
    indptr = sentences.indptr
    return held[positions], running[indptr[passages + 1]] > running[indptr[passages]]


def candidate_features(index: TfidfIndex, query: Query, sentence_ids: np.ndarray,
                       sentence_scores: np.ndarray, passage_scores: np.ndarray,
                       scores: np.ndarray, type_met: np.ndarray | None,
                       negation_unmet: np.ndarray,
                       candidates: tuple[PassageSentences, np.ndarray, np.ndarray] | None = None,
                       detail: dict[str, np.ndarray] | None = None,
                       ranks: np.ndarray | None = None, reaction_asked: bool = False,
                       previous_scores: np.ndarray | None = None,
                       live_passages: int | None = None) -> np.ndarray:
    """A row of ``FEATURES`` for each candidate (given best first, distinct): ``type_met``
    says which sentences hold the answer type the question asks for (None when it asks for
    none), ``negation_unmet`` which lack a negation the question holds. ``candidates``: the
    sentences of their passages with their term rows, and for each candidate its row
    there and its passage's place (``Candidates.sentences``, ``positions``, ``passages``),
    when the caller has them. ``detail``: the columns of ``DETAIL_FEATURES`` (zeros when
    not given); ``ranks``: each candidate's place in the ranking by score (0 the first;
    default: the order given); ``reaction_asked``: the question asks why or how someone
    reacted; ``previous_scores``: the sentence score of the sentence before each one in its
    article (zeros when not given); ``live_passages``: the passages of live articles (default:
    all the index's), whose number ``corpus_size`` reads (deleted articles do not count)."""
    if candidates is None:
        passage_ids, passages = np.unique(index.sentence_passage_[sentence_ids],
                                          return_inverse=True)
        sentences = passage_sentences(index, passage_ids.astype(np.int64))
        positions = np.searchsorted(sentences.sentence_ids, sentence_ids)
        candidates = (sentences, positions, passages.reshape(-1))
    sentences, positions, passages = candidates
    n = sentence_ids.size
    rarest = index.rarest_idf
    idf = index.idf_[query.term_ids].astype(np.float64) * query.term_weights
    # Unknown terms are a feature of their own (unknown_share): a word the corpus lacks may
    # be a paraphrase ("mention") as well as a missing subject ("Germany").
    mass = float(idf.sum())
    in_sentence, in_passage = term_presence(sentences, positions, passages, query.term_ids)

    def matched(present: np.ndarray) -> np.ndarray:
        return (present @ idf) / mass if mass > 0 else np.zeros(n)

    def missing(present: np.ndarray) -> np.ndarray:
        return np.where(present, 0.0, idf[None, :]).max(axis=1, initial=0.0) / rarest

    # The best score among the other candidates: the best one's, or the runner-up's for it.
    top = int(np.argmax(scores)) if n else 0
    runner_up = float(np.max(np.delete(scores, top), initial=0.0)) if n else 0.0
    best_other = np.where(np.arange(n) == top, runner_up, max(float(scores[top]), 0.0) if n else 0.0)
    terms = query.term_ids.size + query.unknown
    articles = index.sentence_article_[sentence_ids]
    first = index.passage_first_sentence_[np.searchsorted(index.passage_article_, articles)]
    position = np.minimum(np.log1p(sentence_ids - first) / np.log(51.0), 1.0)
    rank = np.arange(n) if ranks is None else ranks
    columns: dict[str, np.ndarray | float] = {
        "sentence_score": sentence_scores,
        "passage_score": passage_scores,
        "score": scores,
        "margin": scores - best_other,
        "matched_share": matched(in_sentence),
        "passage_matched_share": matched(in_passage),
        "missing_idf": missing(in_sentence),
        "passage_missing_idf": missing(in_passage),
        "unknown_share": query.unknown / terms if terms else 0.0,
        "unknown_name_share": query.unknown_names / terms if terms else 0.0,
        "mean_idf": mass / (rarest * max(float(query.term_weights.sum()), 1e-9)),
        "question_terms": np.log1p(terms),
        "type_asked": float(type_met is not None),
        "type_met": type_met if type_met is not None else 0.0,
        "negation_unmet": negation_unmet,
        "answer_room": 1.0 - in_sentence.sum(axis=1) / np.maximum(
            sentences.rows.indptr[positions + 1] - sentences.rows.indptr[positions], 1),
        "position": position,
        "rank": np.minimum(np.log1p(rank) / np.log1p(MAX_RANK), 1.0),
        "reaction_asked": float(reaction_asked),
        "previous_score": previous_scores if previous_scores is not None else 0.0,
        "corpus_size": min(np.log10(max(index.n_passages if live_passages is None
                                        else live_passages, 1)) / 6.0, 1.0),
        **{name: (detail[name] if detail is not None else 0.0) for name in DETAIL_FEATURES},
    }
    features = np.empty((n, len(FEATURES)), dtype=np.float64)   # a column at a time (a
    for j, name in enumerate(FEATURES):                          # number: the same in all)
        features[:, j] = columns[name]
    return features
