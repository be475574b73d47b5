"""One batch of articles analysed into the arrays of one segment (in memory).

A batch is segmented into passages and sentences (``retrieval.text``), its sentences'
terms (our ``Analyzer``) are counted over a local vocabulary (as scikit-learn's
``CountVectorizer`` counts), and a passage's counts are the sum of its sentences'. Nothing
here depends on any other batch: weights are applied at question time with the global statistics
(``retrieval.index.stats``), so a batch analysed alone, in a worker process, is final.
Runs in worker processes when building in parallel."""
from __future__ import annotations

import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import CorpusError
from retrieval.text import SegmentationRules, iter_spans

_INT32_MAX = np.iinfo(np.int32).max


@dataclass(frozen=True, eq=False)
class SegmentArrays:
    """The arrays of one segment. Article, passage and sentence numbers are local to it.

    Term counts are kept twice, as Lucene keeps postings and term vectors: passages by term
    (``passage_indptr`` per local term, into ``passage_ids``/``passage_tf``), for the first
    stage; sentences by row (``sentence_indptr`` per sentence, into ``sentence_terms``), for
    scoring a question's candidate sentences. A sentence's row holds each of its terms once per
    occurrence (ascending, so repeats are adjacent): nine entries in ten are counts of 1, so
    this is smaller than a count beside each term, and a sentence's length (what BM25
    normalises by) is its row's length. A passage's length is the sum of its counts."""

    vocabulary: list[str]
    passage_indptr: np.ndarray        # int32 (int64 past 2**31 postings), terms + 1
    passage_ids: np.ndarray           # int32 local passage numbers, ascending per term
    passage_tf: np.ndarray            # uint8 (uint16, uint32 if a count needs it)
    sentence_indptr: np.ndarray       # int32 (int64 past 2**31 entries), sentences + 1
    sentence_terms: np.ndarray        # uint16 local term numbers (int32 past 65,536 terms),
                                      # ascending per sentence, a term once per occurrence
    passage_length: np.ndarray        # uint16 (wider if a length needs it)
    passage_article: np.ndarray       # int32
    passage_start: np.ndarray         # int32 character offsets into the article's text
    passage_end: np.ndarray
    passage_first_sentence: np.ndarray  # int32 (int64 past 2**31 sentences), passages + 1
    sentence_article: np.ndarray      # int32
    sentence_start: np.ndarray        # int32
    sentence_end: np.ndarray
    sentence_passage: np.ndarray      # int32
    sentence_answerable: np.ndarray   # bool
    sentence_hash: np.ndarray         # uint32 CRC-32 of the sentence's text (quote check)

    @property
    def n_passages(self) -> int:
        return int(self.passage_start.shape[0])

    @property
    def n_sentences(self) -> int:
        return int(self.sentence_start.shape[0])


ARRAY_NAMES: tuple[str, ...] = tuple(
    name for name in SegmentArrays.__dataclass_fields__ if name != "vocabulary")


def text_hash(text: str) -> int:
    """A 32-bit checksum of a sentence's text, stored at build time and compared when quoting."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def compact_counts(counts: np.ndarray) -> np.ndarray:
    """Term counts or lengths in the narrowest unsigned type that holds them (uint8 for the
    counts of news text, uint16 for its passages' lengths)."""
    top = int(counts.max()) if counts.size else 0
    return counts.astype(count_dtype(top))


def count_dtype(top: int) -> np.dtype:
    """The narrowest of uint8, uint16 and uint32 holding ``top``."""
    for dtype in (np.uint8, np.uint16):
        if top <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint32)


def term_dtype(n_terms: int) -> np.dtype:
    """Local term numbers: uint16 for a vocabulary of up to 65,536 terms, else int32."""
    return np.dtype(np.uint16 if n_terms <= 1 << 16 else np.int32)


def offset_dtype(total: int) -> np.dtype:
    """Offsets into ``total`` entries: int32 while they fit, else int64."""
    return np.dtype(np.int32 if total <= _INT32_MAX else np.int64)


def count_terms(n_terms: int, terms: np.ndarray, indptr: np.ndarray) -> sp.csr_matrix:
    """The term counts of texts given as their term numbers one after another (``terms``,
    each text's start in ``indptr``, as ``Analyzer.numbered`` gives them): a row each, a
    column per term, indices sorted (what scikit-learn's ``CountVectorizer`` counts)."""
    counts = sp.csr_matrix((np.ones(terms.size, dtype=np.int32), terms, indptr),
                           shape=(indptr.size - 1, n_terms))
    counts.sum_duplicates()     # sorts each row's terms, then adds up repeated ones
    return counts


def occurrences_to_counts(indptr: np.ndarray, terms: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of term occurrences (a term once per occurrence, ascending in its row) as rows of
    distinct terms with their counts: (indptr as int64, terms, counts as int64)."""
    terms = np.asarray(terms)
    n = terms.size
    # a term's first occurrence in its row, and a mark at the end (every row start is one)
    first = np.empty(n + 1, dtype=bool)
    first[0] = first[n] = True
    np.not_equal(terms[1:], terms[:-1], out=first[1:n])
    first[np.asarray(indptr)] = True
    where = np.flatnonzero(first)
    return (np.cumsum(first)[np.asarray(indptr)] - 1, terms[where[:-1]], np.diff(where))


# Sentences are analysed in runs of about this many characters: the words of a run are held
# at once (as Python strings, several times the text's size), not the batch's.
ANALYSED_CHARS = 1 << 20


def analyse_batch(articles: Sequence[Article], analyzer: Analyzer,
                  rules: SegmentationRules) -> SegmentArrays:
    """Segment and analyse ``articles`` (numbered from 0 in this batch) into a segment's
    arrays. Raises ``CorpusError`` for an article too long for 32-bit offsets. The memory it
    takes is in proportion to the batch's numbers, with its sentences' texts and words held a
    run of ``ANALYSED_CHARS`` at a time, however long an article or a paragraph is."""
    p_article, p_start, p_end, p_first = (array("q") for _ in range(4))
    s_article, s_start, s_end, s_passage = (array("q") for _ in range(4))
    s_answerable, s_hash = array("b"), array("L")
    runs = _Runs(analyzer)
    for number, article in enumerate(articles):
        text = article.text
        if len(text) > _INT32_MAX:
            raise CorpusError(f"article {article.id!r} is {len(text):,} characters long; "
                              f"the limit is {_INT32_MAX:,}")
        for start, end, group in iter_spans(text, article.title, rules):
            p_first.append(len(s_start))
            p_article.append(number)
            p_start.append(start)
            p_end.append(end)
            passage = len(p_start) - 1
            for s_begin, s_stop, answerable, sentence in group:
                s_start.append(s_begin)
                s_end.append(s_stop)
                s_passage.append(passage)
                s_answerable.append(answerable)
                s_hash.append(text_hash(sentence))
                runs.add(sentence)
            s_article.extend([number] * len(group))
    vocabulary, terms, indptr = runs.numbered()
    counts = count_terms(len(vocabulary), terms, indptr)
    n_passages, n_sentences = len(p_start), len(s_start)
    membership = sp.csr_matrix(
        (np.ones(n_sentences, dtype=np.int32), (np.asarray(s_passage, dtype=np.int64),
                                                np.arange(n_sentences))),
        shape=(n_passages, n_sentences))
    by_term = (membership @ counts).tocsc()
    by_term.sort_indices()
    occurrence_indptr = np.zeros(n_sentences + 1, dtype=np.int64)
    np.cumsum(np.asarray(counts.sum(axis=1), dtype=np.int64).ravel(), out=occurrence_indptr[1:])
    return SegmentArrays(
        vocabulary=vocabulary,
        passage_indptr=by_term.indptr.astype(offset_dtype(by_term.nnz)),
        passage_ids=by_term.indices.astype(np.int32),
        passage_tf=compact_counts(by_term.data),
        sentence_indptr=occurrence_indptr.astype(offset_dtype(int(occurrence_indptr[-1]))),
        sentence_terms=np.repeat(counts.indices, counts.data).astype(term_dtype(len(vocabulary))),
        passage_length=compact_counts(np.bincount(by_term.indices, weights=by_term.data,
                                                  minlength=n_passages).astype(np.int64)),
        passage_article=_array(p_article, np.int32),
        passage_start=_array(p_start, np.int32),
        passage_end=_array(p_end, np.int32),
        passage_first_sentence=_array(p_first + array("q", [n_sentences]),
                                      offset_dtype(n_sentences)),
        sentence_article=_array(s_article, np.int32),
        sentence_start=_array(s_start, np.int32),
        sentence_end=_array(s_end, np.int32),
        sentence_passage=_array(s_passage, np.int32),
        sentence_answerable=_array(s_answerable, bool),
        sentence_hash=_array(s_hash, np.uint32),
    )


def _array(values: array, dtype: Any) -> np.ndarray:
    """A compact ``array`` of numbers as a numpy array of ``dtype``."""
    return np.frombuffer(values, dtype=values.typecode).astype(dtype) if len(values) else \
        np.zeros(0, dtype=dtype)


class _Runs:
    """Sentences analysed (``Analyzer.numbered``) in runs of about ``ANALYSED_CHARS``
    characters, their vocabularies merged at the end: the same vocabulary and term numbers
    as one call over all of them."""

    def __init__(self, analyzer: Analyzer) -> None:
        self._analyzer = analyzer
        self._pending: list[str] = []
        self._chars = 0
        self._done: list[tuple[list[str], np.ndarray, np.ndarray]] = []

    def add(self, sentence: str) -> None:
        self._pending.append(sentence)
        self._chars += len(sentence)
        if self._chars >= ANALYSED_CHARS:
            self._flush()

    def _flush(self) -> None:
        if self._pending or not self._done:
            self._done.append(self._analyzer.numbered(self._pending))
        self._pending, self._chars = [], 0

    def numbered(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """The vocabulary (sorted), the term numbers of every sentence one after another
        and each sentence's start in them."""
        self._flush()
        if len(self._done) == 1:
            return self._done[0]
        vocabulary = sorted(set().union(*(v for v, _, _ in self._done)))
        number = {t: i for i, t in enumerate(vocabulary)}
        terms, starts, offset = [], [np.zeros(1, dtype=np.int64)], 0
        for local, run_terms, run_indptr in self._done:
            mapping = np.fromiter((number[t] for t in local), dtype=np.int32, count=len(local))
            terms.append(mapping[run_terms] if run_terms.size else run_terms)
            starts.append(np.asarray(run_indptr[1:], dtype=np.int64) + offset)
            offset += int(run_indptr[-1])
        return vocabulary, np.concatenate(terms).astype(np.int32), np.concatenate(starts)
