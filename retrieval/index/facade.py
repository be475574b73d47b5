"""``TfidfIndex``: the segments of an index seen as one, weighted with global statistics.

Terms are counted as scikit-learn's ``CountVectorizer`` counts (with our ``Analyzer``) and the idf
is scikit-learn's smoothed idf (``TfidfTransformer``), learned over passages. Two term
weightings build on them. ``"tfidf"`` (the class default) is scikit-learn's TF-IDF with
l2-normalised rows, so a score is a cosine. ``"bm25"`` (the configured default) saturates the
term frequency and normalises length as BM25 does,
``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean length))``, with its own
``k1``/``b`` for passages and for sentences (short sentences want little length
normalisation); the question vector is the question's idf shares, so a score is the share of
the question's idf mass a text matches (1.0 for every term once in a text of average length;
at most ``k1 + 1``).

Segments store term counts (``retrieval.index.batch``); the weights are applied when a
question is scored, with the statistics of every live passage (``retrieval.index.stats``), so
an index grown by segments scores exactly as one rebuilt. Passages, sentences and articles
are numbered globally in segment order; the span arrays (``sentence_start_``...) are those
numbers' (memory-mapped as they are with one segment, concatenated with several).

``TfidfIndex`` follows the scikit-learn pattern: parameters in ``__init__``, learned state in
attributes ending in ``_``, ``fit`` returns ``self``; ``save``/``load`` go through
``retrieval.index.commit``."""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import IndexFormatError
from retrieval.index.batch import count_dtype, occurrences_to_counts, text_hash
from retrieval.index.segment import Segment
from retrieval.index.stats import GlobalStats, combine
from retrieval.index.store import Articles
from retrieval.text import SegmentationRules

FORMAT_VERSION = 8
WEIGHTINGS = ("tfidf", "bm25")


@dataclass(frozen=True, eq=False)
class FirstStage:
    """The best passages of a question: global passage numbers (of the whole commit) and
    their BM25-weighted scores, in no particular order."""

    passage_ids: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True, eq=False)
class PassagePostings:
    """One segment's passage postings as the first stage reads them: local term ``t``'s
    postings are ``ids[indptr[t]:indptr[t + 1]]`` (local passage numbers, ascending) with
    their term counts ``tf``; ``norms`` is the BM25 length norm of each local passage,
    ``base`` the global number of the segment's first passage and ``to_local`` the local
    number of each global term (-1 where the segment lacks it). Memory-mapped, not copied."""

    indptr: np.ndarray
    ids: np.ndarray
    tf: np.ndarray
    norms: np.ndarray
    base: int
    to_local: np.ndarray


@dataclass(frozen=True, eq=False)
class SentenceRows:
    """Term entries of some sentences, a row per sentence (a CSR matrix without scipy's
    per-object checks, for the few hundred candidates of one question): row ``i``'s global
    terms are ``terms[indptr[i]:indptr[i + 1]]``, ascending, with their ``values``."""

    indptr: np.ndarray
    terms: np.ndarray
    values: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.indptr.size - 1)

    def with_values(self, values: np.ndarray) -> "SentenceRows":
        return SentenceRows(self.indptr, self.terms, values)

    def row_of_entries(self) -> np.ndarray:
        """The row of each entry."""
        return np.repeat(np.arange(self.n_rows), np.diff(self.indptr))

    def take(self, rows: np.ndarray) -> "SentenceRows":
        """The given rows, in that order."""
        positions, lengths = entry_positions(self.indptr, np.asarray(rows, dtype=np.int64))
        indptr = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        return SentenceRows(indptr, self.terms[positions], self.values[positions])

    def columns(self, term_ids: np.ndarray) -> np.ndarray:
        """The values of ``term_ids`` (distinct) in each row: a dense matrix, a column per
        term, 0 where a row lacks the term."""
        dense = np.zeros((self.n_rows, term_ids.size), dtype=self.values.dtype)
        if term_ids.size == 0 or self.terms.size == 0:
            return dense
        order = np.argsort(term_ids)
        ordered = term_ids[order]
        found = np.minimum(np.searchsorted(ordered, self.terms), ordered.size - 1)
        hit = ordered[found] == self.terms
        dense[self.row_of_entries()[hit], order[found[hit]]] = self.values[hit]
        return dense

    def csr(self, n_terms: int) -> sp.csr_matrix:
        """As a scipy matrix of ``n_terms`` columns."""
        # int32 offsets, as scipy's own: mixed index types make it copy and check twice
        wide = self.terms.size >= 2**31
        return sp.csr_matrix((self.values, self.terms.astype(np.int32),
                              self.indptr.astype(np.int64 if wide else np.int32)),
                             shape=(self.n_rows, n_terms))


def bm25_norm(lengths: np.ndarray, k1: float, b: float, mean: float) -> np.ndarray:
    """``k1 * (1 - b + b * length / mean)`` per text, in float32."""
    return (k1 * (1.0 - b + b * lengths.astype(np.float32) / mean)).astype(np.float32)


def _counts(tf: np.ndarray) -> np.ndarray:
    """A sentence's term counts as callers see them: uint16 (uint32 past 65,535)."""
    return tf.astype(np.promote_types(count_dtype(int(tf.max()) if tf.size else 0), np.uint16))


def entry_positions(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of ``rows`` of a compressed matrix (CSR ``indptr``), row after
    row, and each row's length."""
    starts = np.asarray(indptr[rows], dtype=np.int64)
    lengths = np.asarray(indptr[rows + 1], dtype=np.int64) - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), lengths
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets, lengths


class TfidfIndex:
    """TF-IDF over the body passages (paragraphs) and sentences of a corpus, in segments.

    The inverse document frequency is learned over passages; sentences are weighted with the
    same idf, so a question scores passages and sentences in one vector space."""

    def __init__(self, analyzer: Analyzer | None = None, *, sublinear_tf: bool = True,
                 rules: SegmentationRules | None = None, weighting: str = "tfidf",
                 k1: float = 1.2, b: float = 0.75, sentence_k1: float = 0.6,
                 sentence_b: float = 0.3) -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")
        self.analyzer = analyzer or Analyzer()
        self.sublinear_tf = sublinear_tf
        self.rules = rules or SegmentationRules()
        self.weighting = weighting
        self.k1, self.b = float(k1), float(b)
        self.sentence_k1, self.sentence_b = float(sentence_k1), float(sentence_b)

    # ----------------------------------------------------------------------------- building
    def fit(self, articles: Sequence[Article] | Iterable[Article], *, fingerprint: str = "",
            corpus_files: Sequence[Mapping[str, Any]] = (), progress: bool = False,
            n_jobs: int = 1, batch_articles: int | None = None) -> "TfidfIndex":
        """Segment, analyse and weigh ``articles`` in memory (one segment per batch of
        ``batch_articles``, in ``n_jobs`` processes). ``fingerprint`` and ``corpus_files``
        (what the corpus was read from) are kept in the manifest, to tell later whether the
        corpus changed. ``retrieval.index.commit.build`` builds on disk instead, in bounded
        memory."""
        from retrieval.index.commit import build_segments
        segments = list(build_segments(self, articles, n_jobs=n_jobs, progress=progress,
                                       batch_articles=batch_articles))
        self.fingerprint_ = fingerprint
        self.corpus_files_ = tuple(dict(f) for f in corpus_files)
        return self.attach(segments)

    def attach(self, segments: Sequence[Segment], deleted: Sequence[np.ndarray | None] = (),
               stats: GlobalStats | None = None, maps: Sequence[np.ndarray] | None = None
               ) -> "TfidfIndex":
        """Serve ``segments`` (without their ``deleted`` articles, a boolean per article or
        None per segment) with the global statistics ``stats`` and term numbers ``maps``
        (computed from the segments when not given: pass them to serve a subset of a commit's
        segments, a shard, with the whole commit's statistics; its numbers are its own, from
        0: ``PassageSearcher`` is given the shard's first numbers in the commit)."""
        segments = list(segments)
        deleted = list(deleted) or [None] * len(segments)
        if stats is None or maps is None:
            stats, maps = combine(segments, deleted)
        self.segments_ = segments
        self.deleted_ = deleted
        self.stats_ = stats
        self.vocabulary_ = stats.vocabulary
        self.idf_ = stats.idf()
        self._to_global = list(maps)
        n_terms = len(stats.vocabulary)
        self._to_local = []
        for local_to_global in self._to_global:
            inverse = np.full(n_terms, -1, dtype=np.int64)
            known = local_to_global >= 0
            inverse[local_to_global[known]] = np.flatnonzero(known)
            self._to_local.append(inverse)
        counts = np.array([[len(s.store), s.arrays.n_passages, s.arrays.n_sentences]
                           for s in segments], dtype=np.int64).reshape(-1, 3)
        self._bases = np.vstack([np.zeros((1, 3), dtype=np.int64), np.cumsum(counts, axis=0)])
        self.articles_ = Articles([s.store for s in segments], self._live_articles())
        self._concatenate()
        self._prepare()
        return self

    def _live_articles(self) -> np.ndarray | None:
        if all(d is None or not d.any() for d in self.deleted_):
            return None
        return ~np.concatenate([d if d is not None else np.zeros(len(s.store), dtype=bool)
                                for s, d in zip(self.segments_, self.deleted_)])

    def _concatenate(self) -> None:
        """The global span arrays: a segment's own (memory-mapped) arrays when there is one,
        else their concatenation with each segment's numbers shifted."""
        shifts = {"passage_article": 0, "sentence_article": 0, "sentence_passage": 1,
                  "passage_first_sentence": 2}
        for name in ("passage_article", "passage_start", "passage_end", "sentence_article",
                     "sentence_start", "sentence_end", "sentence_passage",
                     "sentence_answerable", "sentence_hash", "passage_first_sentence"):
            parts = [getattr(s.arrays, name) for s in self.segments_]
            if name == "passage_first_sentence":
                parts = [p[:-1] for p in parts] + [np.array([self._bases[-1, 2]])]
            if len(self.segments_) == 1 and name != "passage_first_sentence":
                value = parts[0]
            elif not parts:
                value = np.zeros(1 if name == "passage_first_sentence" else 0, dtype=np.int64)
            else:
                column = shifts.get(name)
                value = np.concatenate([
                    p.astype(np.int64) + self._bases[i, column] if column is not None
                    and i < len(self.segments_) else p for i, p in enumerate(parts)])
            setattr(self, f"{name}_", value)
        self.article_length_ = self.articles_.lengths
        live = self.articles_.live
        self._live_passages = None if live is None else live[self.passage_article_]

    def _prepare(self) -> None:
        self._term_ids = {term: i for i, term in enumerate(self.vocabulary_)}
        n = self.stats_.passages
        if self.weighting == "bm25":
            # A question term no passage holds weighs as a term found in one passage: the
            # idf of df = 0 would let two unknown words outweigh a whole question in a small
            # corpus.
            self._rarest = np.float32(np.log((n + 1.0) / 2.0) + 1.0)
            mean = self.stats_.mean_passage_length
            self._passage_norms = [bm25_norm(s.arrays.passage_length, self.k1, self.b, mean)
                                   for s in self.segments_]
        else:
            self._rarest = np.float32(np.log(n + 1.0) + 1.0)
            self._passage_norms = [self._tfidf_passage_norms(i)
                                   for i in range(len(self.segments_))]

    def _tf(self, tf: np.ndarray) -> np.ndarray:
        """Term counts as the tf-idf weighting takes them (1 + log tf when sublinear)."""
        tf = tf.astype(np.float32)
        if self.sublinear_tf:
            np.log(tf, out=tf)
            tf += 1.0
        return tf

    def _tfidf_passage_norms(self, number: int) -> np.ndarray:
        a = self.segments_[number].arrays
        terms = np.repeat(self._to_global[number], np.diff(a.passage_indptr))
        weights = self._tf(a.passage_tf) * self.idf_[np.maximum(terms, 0)]
        weights[terms < 0] = 0.0
        squares = np.bincount(a.passage_ids, weights=weights.astype(np.float64) ** 2,
                              minlength=a.n_passages)
        norms = np.sqrt(squares).astype(np.float32)
        norms[norms == 0] = 1.0
        return norms

    # ----------------------------------------------------------------------------- querying
    @property
    def n_passages(self) -> int:
        return int(self._bases[-1, 1])

    @property
    def n_sentences(self) -> int:
        return int(self._bases[-1, 2])

    @property
    def article_ids_(self) -> list[str]:
        return self.articles_.ids

    @property
    def rarest_idf(self) -> float:
        """The idf a question term gets when no passage (or one) holds it: the largest idf."""
        return float(self._rarest)

    def query_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question as (term ids, weights); empty when no term of the question is in the
        vocabulary. With tf-idf weighting: as scikit-learn's ``TfidfTransformer`` would weigh
        it, l2-normalised over all its terms, those outside the vocabulary included. With
        BM25: each term's count over the question's idf mass (unknown terms included)."""
        counts: dict[str, float] = {}
        for term in self.analyzer(text):
            counts[term] = counts.get(term, 0.0) + 1.0
        return self.weighted_query_vector(counts)

    def weighted_query_vector(self, term_counts: Mapping[str, float]
                              ) -> tuple[np.ndarray, np.ndarray]:
        """As ``query_vector``, for analysed terms with (possibly fractional) counts: a
        conversation's follow-up question carries earlier questions' terms at lower weight."""
        counts: dict[int, float] = {}
        unknown: dict[str, float] = {}
        for term, count in term_counts.items():
            if count <= 0:
                continue
            term_id = self._term_ids.get(term)
            if term_id is not None:
                counts[term_id] = counts.get(term_id, 0.0) + count
            else:
                unknown[term] = unknown.get(term, 0.0) + count
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        if self.weighting == "bm25":
            # A term's query weight is its count over the question's idf mass, so a score is
            # the share of that mass matched.
            total = float(np.dot(tf, self.idf_[ids])) + float(self._rarest) * sum(unknown.values())
            return ids, (tf / total).astype(np.float32)
        if self.sublinear_tf:  # fractional (carried) counts below 1 are kept as they are
            tf = np.where(tf > 1.0, 1.0 + np.log(np.maximum(tf, 1.0)), tf)
        weights = tf * self.idf_[ids]
        # A term no passage contains is as rare as a term can be: it keeps its share of the
        # question's norm, so a question about something else scores low, not perfectly.
        rarest = self._rarest
        unknown_tf = np.fromiter(unknown.values(), dtype=np.float32, count=len(unknown))
        if self.sublinear_tf:
            unknown_tf = np.where(unknown_tf > 1.0, 1.0 + np.log(np.maximum(unknown_tf, 1.0)),
                                  unknown_tf)
        norm = np.sqrt(np.sum(weights ** 2) + np.sum((unknown_tf * rarest) ** 2))
        return ids, weights / norm

    def lookup(self, terms: Sequence[str]) -> np.ndarray:
        """The vocabulary ids of analysed ``terms``, -1 for a term no passage holds."""
        return np.fromiter((self._term_ids.get(t, -1) for t in terms), dtype=np.int64,
                           count=len(terms))

    def _posting_weights(self, number: int, lo: int, hi: int, term: int) -> tuple[
            np.ndarray, np.ndarray]:
        """Segment ``number``'s postings ``lo:hi`` (of global term ``term``): local passage
        numbers and weights."""
        a = self.segments_[number].arrays
        rows = np.asarray(a.passage_ids[lo:hi])
        counts = np.asarray(a.passage_tf[lo:hi])
        norms_of = self._passage_norms[number]
        if rows.size and (int(rows.max()) >= norms_of.size or int(rows.min()) < 0):
            # A damaged segment the sampled checksums missed: its impossible postings are
            # skipped, never read out of bounds (as the compiled first stage skips them).
            keep = (rows >= 0) & (rows < norms_of.size)
            rows, counts = rows[keep], counts[keep]
        norms = norms_of[rows]
        idf = self.idf_[term]
        if self.weighting == "bm25":
            tf = counts.astype(np.float32)
            return rows, tf * (self.k1 + 1.0) / (tf + norms) * idf
        return rows, (self._tf(counts) * idf / norms).astype(np.float32)

    def passage_postings(self) -> list[PassagePostings]:
        """Each segment's passage postings, for a compiled first stage that weighs them as
        ``_posting_weights`` does (BM25 weighting only)."""
        return [PassagePostings(s.arrays.passage_indptr, s.arrays.passage_ids,
                                s.arrays.passage_tf, self._passage_norms[i],
                                int(self._bases[i, 1]), self._to_local[i])
                for i, s in enumerate(self.segments_)]

    @property
    def live_passages(self) -> np.ndarray | None:
        """A boolean per passage, False for those of deleted articles; None when none is."""
        return self._live_passages

    def passage_scores(self, term_ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Score of every passage for the question vector: a cosine with tf-idf weighting,
        the BM25 share of the question matched with BM25 weighting (0 for deleted ones).
        One pass over the question terms' postings, summed in term order."""
        scores = np.zeros(self.n_passages, dtype=np.float32)
        for number, segment in enumerate(self.segments_):
            indptr, base = segment.arrays.passage_indptr, int(self._bases[number, 1])
            local = self._to_local[number][term_ids] if term_ids.size else term_ids
            for term, local_term, weight in zip(term_ids, local, weights):
                if local_term < 0:
                    continue
                if local_term + 1 >= indptr.size:   # a damaged segment: skipped, as the
                    continue                         # compiled first stage skips it
                lo, hi = max(int(indptr[local_term]), 0), int(indptr[local_term + 1])
                rows, w = self._posting_weights(number, lo, hi, int(term))
                scores[rows + base if base else rows] += w * weight
        if self._live_passages is not None:
            scores[~self._live_passages] = 0.0
        return scores

    def _sentence_rows(self, sentence_ids: np.ndarray) -> tuple[SentenceRows, np.ndarray]:
        """The term counts of the given (global) sentences, a row each in the order given
        (global terms ascending within a row), and each sentence's length."""
        ids = np.asarray(sentence_ids, dtype=np.int64)
        if len(self.segments_) == 1:      # the common case: no segment to look up, no sort
            indptr, terms, tf, lengths = self._local_rows(0, ids)
            return (SentenceRows(indptr, self._to_global[0][terms].astype(np.int64),
                                 _counts(tf)), lengths)
        segment_of = np.searchsorted(self._bases[1:, 2], ids, side="right")
        rows, terms, tfs = [], [], []
        lengths = np.zeros(ids.size, dtype=np.int32)
        for number in np.unique(segment_of):
            where = np.flatnonzero(segment_of == number)
            indptr, term, tf, lengths[where] = self._local_rows(
                number, ids[where] - self._bases[number, 2])
            rows.append(np.repeat(where, np.diff(indptr)))
            terms.append(self._to_global[number][term])
            tfs.append(tf)
        indptr = np.zeros(ids.size + 1, dtype=np.int64)
        if not rows:
            empty = np.zeros(0, dtype=np.int64)
            return SentenceRows(indptr, empty, _counts(empty)), lengths
        row, term, tf = (np.concatenate(x) for x in (rows, terms, tfs))
        order = np.argsort(row, kind="stable")
        np.cumsum(np.bincount(row, minlength=ids.size), out=indptr[1:])
        return SentenceRows(indptr, term[order].astype(np.int64), _counts(tf[order])), lengths

    def _local_rows(self, number: int, local: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Segment ``number``'s sentences ``local``: their rows of distinct local terms (indptr,
        terms, counts) and their lengths."""
        a = self.segments_[number].arrays
        positions, lengths = entry_positions(a.sentence_indptr, local)
        occurrences = np.zeros(local.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=occurrences[1:])
        indptr, terms, tf = occurrences_to_counts(occurrences,
                                                  np.asarray(a.sentence_terms[positions]))
        return indptr, terms, tf, lengths.astype(np.int32)

    def sentence_counts(self, sentence_ids: np.ndarray) -> SentenceRows:
        """The term counts of the given sentences, a row per sentence (global terms)."""
        counts, _ = self._sentence_rows(sentence_ids)
        return counts

    def sentence_weight_rows(self, sentence_ids: np.ndarray) -> SentenceRows:
        """The weighted term rows of the given sentences (BM25 with the sentence ``k1``/``b``
        and the mean sentence length, or l2-normalised tf-idf), in float32."""
        counts, lengths = self._sentence_rows(sentence_ids)
        term, tf = counts.terms, counts.values
        row = counts.row_of_entries()
        idf = self.idf_[term]
        if self.weighting == "bm25":
            norms = bm25_norm(lengths, self.sentence_k1, self.sentence_b,
                              self.stats_.mean_sentence_length)[row]
            tf32 = tf.astype(np.float32)
            data = (tf32 * (self.sentence_k1 + 1.0) / (tf32 + norms) * idf).astype(np.float32)
        else:
            data = self._tf(tf) * idf
            squares = np.bincount(row, weights=data.astype(np.float64) ** 2,
                                  minlength=len(sentence_ids))
            norms = np.sqrt(squares)
            norms[norms == 0] = 1.0
            data = (data / norms[row]).astype(np.float32)
        return counts.with_values(data)

    def sentence_weights(self, sentence_ids: np.ndarray) -> sp.csr_matrix:
        """``sentence_weight_rows`` as a matrix: a row per sentence, a column per term."""
        return self.sentence_weight_rows(sentence_ids).csr(len(self.vocabulary_))

    def sentence_scores(self, sentence_ids: np.ndarray, term_ids: np.ndarray,
                        weights: np.ndarray, rows: SentenceRows | None = None) -> np.ndarray:
        """Score of the given sentences for the question vector (as ``passage_scores``),
        summed in ascending term order. ``rows``: their ``sentence_weight_rows``, when the
        caller has them."""
        if term_ids.size == 0 or sentence_ids.size == 0:
            return np.zeros(sentence_ids.size, dtype=np.float32)
        rows = self.sentence_weight_rows(sentence_ids) if rows is None else rows
        dense = rows.columns(term_ids)
        scores = np.zeros(sentence_ids.size, dtype=np.float32)
        for j in np.argsort(term_ids, kind="stable"):
            scores += dense[:, j] * weights[j]
        return scores

    def sentence_terms(self, sentence_ids: np.ndarray,
                       rows: SentenceRows | None = None) -> SentenceRows:
        """The l2-normalised term-weight rows of the given sentences (their dot products are
        cosines, for near-duplicate detection). ``rows``: their ``sentence_weight_rows``,
        when the caller has them."""
        rows = self.sentence_weight_rows(sentence_ids) if rows is None else rows
        if self.weighting == "tfidf":
            return rows
        # Each row's sum of squares in float32, by ``np.add.reduceat`` as scipy sums a row.
        # A row with no terms (a sentence of stop words only) keeps its zeros.
        lengths = np.diff(rows.indptr)
        squares = np.zeros(lengths.size, dtype=np.float32)
        filled = np.flatnonzero(lengths)
        if filled.size:
            squares[filled] = np.add.reduceat(rows.values * rows.values, rows.indptr[filled])
        norms = np.sqrt(squares.astype(np.float64))
        norms[norms == 0] = 1.0
        return rows.with_values(rows.values / np.repeat(norms, lengths).astype(np.float32))

    def sentence_cosines(self, sentence_ids: np.ndarray,
                         rows: SentenceRows | None = None) -> np.ndarray:
        """The cosines of the given sentences' term weights, pairwise (a dense matrix: for the
        few hundred candidates of one question at most). ``rows``: their
        ``sentence_weight_rows``, when the caller has them."""
        rows = self.sentence_terms(sentence_ids, rows)
        columns, local = np.unique(rows.terms, return_inverse=True)
        dense = np.zeros((len(sentence_ids), columns.size), dtype=np.float32)
        dense[rows.row_of_entries(), local] = rows.values
        return dense @ dense.T

    # Whole weighted matrices, materialised on first use: for tools over small corpora
    # (training scripts, tests), never on a question's path.
    @cached_property
    def sentence_matrix_(self) -> sp.csr_matrix:
        return self.sentence_weights(np.arange(self.n_sentences))

    @cached_property
    def passage_matrix_(self) -> sp.csc_matrix:
        blocks = []
        for number, segment in enumerate(self.segments_):
            a = segment.arrays
            rows, cols, data = [], [], []
            local_terms = np.flatnonzero(self._to_global[number] >= 0)
            for local_term in local_terms:
                lo, hi = int(a.passage_indptr[local_term]), int(a.passage_indptr[local_term + 1])
                term = int(self._to_global[number][local_term])
                r, w = self._posting_weights(number, lo, hi, term)
                rows.append(r)
                cols.append(np.full(r.size, term))
                data.append(w)
            cat = (lambda x, t: np.concatenate(x) if x else np.zeros(0, dtype=t))
            blocks.append(sp.csr_matrix((cat(data, np.float32), (cat(rows, np.int64),
                                                                 cat(cols, np.int64))),
                                        shape=(a.n_passages, len(self.vocabulary_))))
        matrix = (sp.vstack(blocks, format="csc") if blocks
                  else sp.csc_matrix((0, len(self.vocabulary_)), dtype=np.float32))
        if self._live_passages is not None:
            matrix = sp.diags(self._live_passages.astype(np.float32)) @ matrix
        return matrix.tocsc()

    # ---------------------------------------------------------------------------- persisting
    def manifest_params(self) -> dict[str, Any]:
        """The parameters an index is built with, as recorded in its manifest."""
        return {
            "format_version": FORMAT_VERSION,
            "analyzer": self.analyzer.params(),
            "sublinear_tf": self.sublinear_tf,
            "rules": asdict(self.rules),
            "weighting": self.weighting,
            "bm25": {"k1": self.k1, "b": self.b, "sentence_k1": self.sentence_k1,
                     "sentence_b": self.sentence_b},
        }

    def segment_params(self) -> dict[str, Any]:
        """The parameters a segment's content depends on (its counts: not the weighting)."""
        return {"format_version": FORMAT_VERSION, "analyzer": self.analyzer.params(),
                "rules": asdict(self.rules)}

    def manifest(self) -> dict[str, Any]:
        """What the index was built from and with."""
        return {
            **self.manifest_params(),
            "fingerprint": self.fingerprint_,
            "corpus_files": list(self.corpus_files_),
            "articles": len(self.articles_) if self.articles_.live is None
            else int(self.articles_.live.sum()),
            "passages": self.stats_.passages,
            "sentences": self.stats_.sentences,
            "terms": len(self.vocabulary_),
        }

    def save(self, path: str | Path) -> Path:
        """Write the index (its segments and a commit listing them) under index directory
        ``path``, committed atomically (see ``retrieval.storage``): a reader sees the previous
        or the new index, whenever a save is interrupted. Raises ``IndexLocationError`` when
        ``path`` is not an index of ours and ``OSError`` when it cannot be written."""
        from retrieval.index.commit import save_index
        return save_index(self, Path(path))

    @classmethod
    def read_manifest(cls, path: str | Path) -> dict[str, Any] | None:
        """The manifest of a saved index's current commit, or None when there is none."""
        from retrieval import storage
        return storage.read_manifest(Path(path))

    @classmethod
    def load(cls, path: str | Path, segments: Sequence[str] | None = None,
             commit: str | None = None) -> "TfidfIndex":
        """Open the current commit of index directory ``path`` (or the commit of generation
        ``commit``; only its ``segments`` when given: a shard, weighted with the whole
        commit's statistics), memory-mapped. Raises ``IndexFormatError`` when it is missing,
        of another format version or damaged."""
        from retrieval.index.commit import open_index
        return open_index(cls, Path(path), segments, commit)

    def check_quote(self, sentence_id: int, text: str) -> None:
        """Raise ``IndexFormatError`` unless ``text`` (the span quoted for sentence
        ``sentence_id``) is the sentence that was indexed: the index no longer fits the
        articles, and the quote would not be the sentence it claims to be."""
        if text_hash(text) != int(self.sentence_hash_[sentence_id]):
            raise IndexFormatError("the index does not match the articles (a quoted span is "
                                   "not the sentence that was indexed); rebuild it with "
                                   "`qabot index`")

    def matches(self, articles: Sequence[Article]) -> bool:
        """Whether this index was built from these articles (same ids, same text lengths)."""
        live = self.articles_.live
        ids = self.article_ids_ if live is None else [
            i for i, keep in zip(self.article_ids_, live) if keep]
        lengths = self.article_length_ if live is None else self.article_length_[live]
        return ids == [a.id for a in articles] and np.array_equal(
            lengths, np.fromiter((len(a.text) for a in articles), dtype=np.int64,
                                 count=len(articles)))

