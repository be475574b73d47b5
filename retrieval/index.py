"""The index: passages and sentences of a corpus as two sparse matrices over one
vocabulary, and the character spans that tie each row back to an article.

Terms are counted by scikit-learn's ``CountVectorizer`` (with our ``Analyzer``) and the idf
is scikit-learn's smoothed idf (``TfidfTransformer``), learned over passages. Two term
weightings build on them. ``"tfidf"`` (the class default) is scikit-learn's TF-IDF with
l2-normalised rows, so a score is a cosine. ``"bm25"`` (the configured default) saturates the
term frequency and normalises length as BM25 does,
``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / mean length))``, with its own
``k1``/``b`` for passages and for sentences (short sentences want little length
normalisation); the question vector is the question's idf shares, so a score is the share of
the question's idf mass a text matches (1.0 for every term once in a text of average length;
at most ``k1 + 1``).

``TfidfIndex`` follows the scikit-learn pattern: parameters in ``__init__``, learned state in
attributes ending in ``_``, ``fit`` returns ``self``. ``save`` writes plain arrays, the
vocabulary and a manifest to a directory, atomically; ``load`` reads them and never refits.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import IndexFormatError
from retrieval.text import SegmentationRules, segment_article

FORMAT_VERSION = 4
WEIGHTINGS = ("tfidf", "bm25")
MANIFEST = "manifest.json"
_ARRAYS = ("idf", "passage_article", "passage_start", "passage_end", "passage_first_sentence",
           "sentence_article", "sentence_start", "sentence_end", "sentence_passage",
           "sentence_answerable")
_MATRICES = ("passage_matrix", "sentence_matrix")


class TfidfIndex:
    """TF-IDF over the body passages (paragraphs) and sentences of a corpus.

    The inverse document frequency is learned over passages; sentences are weighted with the
    same idf, so a question scores passages and sentences in one vector space. Passage vectors
    are stored column-major (a term's postings are contiguous) so that scoring touches only
    the question's terms."""

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
    def fit(self, articles: Sequence[Article], *, fingerprint: str = "",
            progress: bool = False, n_jobs: int = 1) -> "TfidfIndex":
        """Segment, analyse and weight ``articles``. Shows a progress bar when ``progress``.

        With ``n_jobs > 1`` the articles are segmented and analysed in that many processes,
        in chunks; the result is the same as with one."""
        chunks = _chunks(len(articles), n_jobs)
        work = [([(a.text, a.title) for a in articles[lo:hi]], lo) for lo, hi in chunks]
        bar = tqdm(total=len(articles), desc="analysing", unit="article", disable=not progress,
                   leave=False)
        if n_jobs > 1 and len(chunks) > 1:
            with ProcessPoolExecutor(max_workers=n_jobs) as pool:
                parts = []
                for part in pool.map(_analyse, work, [self.analyzer] * len(work),
                                     [self.rules] * len(work)):
                    parts.append(part)
                    bar.update(part["articles"])
        else:
            parts = []
            for item in work:
                parts.append(_analyse(item, self.analyzer, self.rules))
                bar.update(parts[-1]["articles"])
        bar.close()
        counts, vocabulary, spans = _merge(parts)
        p_article, p_start, p_end, p_first = (spans[k] for k in ("p_article", "p_start", "p_end",
                                                                  "p_first"))
        s_article, s_start, s_end, s_passage, s_answerable = (
            spans[k] for k in ("s_article", "s_start", "s_end", "s_passage", "s_answerable"))
        n_passages, n_sentences = p_start.size, s_start.size
        # A passage's term counts are the sum of its sentences' counts.
        membership = sp.csr_matrix(
            (np.ones(n_sentences, dtype=np.float32), (s_passage.astype(np.int64),
                                                       np.arange(n_sentences))),
            shape=(n_passages, n_sentences))
        passage_counts = (membership @ counts).tocsr()
        if n_passages:
            # scikit-learn's smoothed idf, learned over passages, for both weightings.
            # (scikit-learn is imported only to build: it takes most of a second to import.)
            from sklearn.feature_extraction.text import TfidfTransformer
            weigher = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2", smooth_idf=True)
            weigher.fit(passage_counts)
            idf = weigher.idf_.astype(np.float32)
        else:
            idf = np.zeros(0, dtype=np.float32)
        self.vocabulary_: list[str] = vocabulary
        self.idf_ = idf
        self.passage_matrix_ = self._weigh(passage_counts, self.k1, self.b).tocsc()
        self.sentence_matrix_ = self._weigh(counts, self.sentence_k1, self.sentence_b).tocsr()
        self.passage_article_ = np.asarray(p_article, dtype=np.int32)
        self.passage_start_ = np.asarray(p_start, dtype=np.int64)
        self.passage_end_ = np.asarray(p_end, dtype=np.int64)
        self.passage_first_sentence_ = np.append(p_first, n_sentences).astype(np.int64)
        self.sentence_article_ = np.asarray(s_article, dtype=np.int32)
        self.sentence_start_ = np.asarray(s_start, dtype=np.int64)
        self.sentence_end_ = np.asarray(s_end, dtype=np.int64)
        self.sentence_passage_ = np.asarray(s_passage, dtype=np.int32)
        self.sentence_answerable_ = np.asarray(s_answerable, dtype=bool)
        self.article_ids_: list[str] = [a.id for a in articles]
        self.fingerprint_ = fingerprint
        self._prepare()
        return self

    def _weigh(self, counts: sp.csr_matrix, k1: float, b: float) -> sp.csr_matrix:
        counts = counts.astype(np.float32, copy=True)
        if self.weighting == "bm25":
            return _bm25(counts, self.idf_, k1, b)
        if self.sublinear_tf:
            np.log(counts.data, out=counts.data)
            counts.data += 1.0
        from sklearn.preprocessing import normalize
        weighted = counts @ sp.diags(self.idf_, format="csr") if counts.shape[1] else counts
        return normalize(weighted, norm="l2", copy=False).astype(np.float32)

    def _prepare(self) -> None:
        self._term_ids = {term: i for i, term in enumerate(self.vocabulary_)}
        if self.weighting == "bm25":
            # A question term no passage holds weighs as a term found in one passage: the
            # idf of df = 0 would let two unknown words outweigh a whole question in a small
            # corpus.
            self._rarest = np.float32(np.log((self.n_passages + 1.0) / 2.0) + 1.0)
        else:
            self._rarest = np.float32(np.log(self.n_passages + 1.0) + 1.0)

    # ----------------------------------------------------------------------------- querying
    @property
    def n_passages(self) -> int:
        return int(self.passage_start_.shape[0])

    @property
    def n_sentences(self) -> int:
        return int(self.sentence_start_.shape[0])

    def query_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question as (term ids, weights); empty when no term of the question is in the
        vocabulary. With tf-idf weighting: as scikit-learn's ``TfidfTransformer`` would weigh
        it, l2-normalised over all its terms, those outside the vocabulary included. With
        BM25: each term's count over the question's idf mass (unknown terms included)."""
        counts: dict[int, int] = {}
        unknown: dict[str, int] = {}
        for term in self.analyzer(text):
            term_id = self._term_ids.get(term)
            if term_id is not None:
                counts[term_id] = counts.get(term_id, 0) + 1
            else:
                unknown[term] = unknown.get(term, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        if self.weighting == "bm25":
            # The stored weights hold the idf already: a term's query weight is its count
            # over the question's idf mass, so a score is the share of that mass matched.
            total = float(np.dot(tf, self.idf_[ids])) + float(self._rarest) * sum(unknown.values())
            return ids, (tf / total).astype(np.float32)
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        weights = tf * self.idf_[ids]
        # A term no passage contains is as rare as a term can be: it keeps its share of the
        # question's norm, so a question about something else scores low, not perfectly.
        rarest = self._rarest
        unknown_tf = np.fromiter(unknown.values(), dtype=np.float32, count=len(unknown))
        if self.sublinear_tf:
            unknown_tf = 1.0 + np.log(unknown_tf)
        norm = np.sqrt(np.sum(weights ** 2) + np.sum((unknown_tf * rarest) ** 2))
        return ids, weights / norm

    @property
    def rarest_idf(self) -> float:
        """The idf a question term gets when no passage (or one) holds it: the largest idf."""
        return float(self._rarest)

    def lookup(self, terms: Sequence[str]) -> np.ndarray:
        """The vocabulary ids of analysed ``terms``, -1 for a term no passage holds."""
        return np.fromiter((self._term_ids.get(t, -1) for t in terms), dtype=np.int64,
                           count=len(terms))

    def passage_scores(self, term_ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Score of every passage for the question vector: a cosine with tf-idf weighting,
        the BM25 share of the question matched with BM25 weighting."""
        if term_ids.size == 0:
            return np.zeros(self.n_passages, dtype=np.float32)
        return np.asarray(self.passage_matrix_[:, term_ids] @ weights).ravel()

    def sentence_scores(self, sentence_ids: np.ndarray, term_ids: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """Score of the given sentences for the question vector (as ``passage_scores``)."""
        if term_ids.size == 0 or sentence_ids.size == 0:
            return np.zeros(sentence_ids.size, dtype=np.float32)
        rows = self.sentence_matrix_[sentence_ids][:, term_ids]
        return np.asarray(rows @ weights).ravel()

    def sentence_terms(self, sentence_ids: np.ndarray) -> sp.csr_matrix:
        """The l2-normalised term-weight rows of the given sentences (their dot products are
        cosines, for near-duplicate detection)."""
        rows = self.sentence_matrix_[sentence_ids]
        if self.weighting == "tfidf":
            return rows
        norms = np.sqrt(np.add.reduceat(rows.data ** 2, rows.indptr[:-1])) if rows.nnz else 0
        if rows.nnz:
            lengths = np.diff(rows.indptr)
            norms = np.where(lengths > 0, norms, 1.0)  # reduceat of an empty row: ignored
            rows.data /= np.repeat(norms, lengths).astype(np.float32)
        return rows

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

    def manifest(self) -> dict[str, Any]:
        """What the saved index was built from and with."""
        return {
            **self.manifest_params(),
            "fingerprint": self.fingerprint_,
            "articles": len(self.article_ids_),
            "passages": self.n_passages,
            "sentences": self.n_sentences,
            "terms": len(self.vocabulary_),
        }

    def save(self, path: str | Path) -> Path:
        """Write the index to directory ``path``: into a temporary sibling first, then renamed
        into place, so a crash never leaves a half-written index under ``path``."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
        tmp.mkdir()
        try:
            for name in _ARRAYS:
                np.save(tmp / f"{name}.npy", getattr(self, f"{name}_"), allow_pickle=False)
            for name in _MATRICES:
                sp.save_npz(tmp / f"{name}.npz", getattr(self, f"{name}_"), compressed=False)
            (tmp / "vocabulary.json").write_text(json.dumps(self.vocabulary_, ensure_ascii=False),
                                                  encoding="utf-8")
            (tmp / "articles.json").write_text(json.dumps(self.article_ids_, ensure_ascii=False),
                                               encoding="utf-8")
            # The stop list travels with the index: questions are analysed as the passages
            # were, whatever scikit-learn's list becomes, and without importing it.
            (tmp / "stop_words.json").write_text(json.dumps(sorted(self.analyzer.stop_set())),
                                                 encoding="utf-8")
            # The manifest is written last: a directory without one is never loaded.
            (tmp / MANIFEST).write_text(json.dumps(self.manifest(), indent=2), encoding="utf-8")
            _replace_dir(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    @classmethod
    def read_manifest(cls, path: str | Path) -> dict[str, Any] | None:
        """The manifest of a saved index, or None when there is no usable one."""
        try:
            manifest = json.loads((Path(path) / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    @classmethod
    def load(cls, path: str | Path) -> "TfidfIndex":
        """Read an index written by ``save``. Raises ``IndexFormatError`` when it is missing,
        of another format version or damaged."""
        root = Path(path)
        manifest = cls.read_manifest(root)
        if manifest is None:
            raise IndexFormatError(f"no index at {root} (run `qabot index` to build it)")
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"index at {root} has format version "
                                   f"{manifest.get('format_version')}, expected {FORMAT_VERSION}; "
                                   "rebuild it with `qabot index`")
        try:
            stop_list = frozenset(json.loads((root / "stop_words.json").read_text(encoding="utf-8")))
            index = cls(Analyzer(**manifest["analyzer"], stop_list=stop_list),
                        sublinear_tf=manifest["sublinear_tf"],
                        rules=SegmentationRules(**manifest["rules"]),
                        weighting=manifest["weighting"], **manifest["bm25"])
            for name in _ARRAYS:
                setattr(index, f"{name}_", np.load(root / f"{name}.npy", allow_pickle=False))
            index.passage_matrix_ = sp.load_npz(root / "passage_matrix.npz").tocsc()
            index.sentence_matrix_ = sp.load_npz(root / "sentence_matrix.npz").tocsr()
            index.vocabulary_ = json.loads((root / "vocabulary.json").read_text(encoding="utf-8"))
            index.article_ids_ = json.loads((root / "articles.json").read_text(encoding="utf-8"))
            index.fingerprint_ = manifest["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise IndexFormatError(f"index at {root} is damaged ({exc}); "
                                   "rebuild it with `qabot index`") from None
        if index.passage_matrix_.shape != (index.n_passages, len(index.vocabulary_)) or \
                index.sentence_matrix_.shape != (index.n_sentences, len(index.vocabulary_)):
            raise IndexFormatError(f"index at {root} is damaged (matrix shapes disagree); "
                                   "rebuild it with `qabot index`")
        index._prepare()
        return index


def _replace_dir(new: Path, target: Path) -> None:
    """Move directory ``new`` to ``target``, replacing what is there."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        target.rename(old)
        new.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        new.rename(target)


def _chunks(n: int, n_jobs: int) -> list[tuple[int, int]]:
    """Ranges of articles to analyse: one when ``n_jobs`` is 1, else chunks small enough to
    keep every process busy and the progress bar moving."""
    if n == 0:
        return [(0, 0)]
    size = n if n_jobs <= 1 else max(1, min(20_000, -(-n // (4 * n_jobs))))
    return [(lo, min(n, lo + size)) for lo in range(0, n, size)]


def _analyse(work: tuple[list[tuple[str, str]], int], analyzer: Analyzer,
             rules: SegmentationRules) -> dict[str, Any]:
    """Segment and analyse one chunk of articles (``(text, title)`` pairs, the first being
    article number ``offset``): their spans, and their sentences' term counts over a local
    vocabulary, counted by scikit-learn's ``CountVectorizer`` with our analyser. Runs in a
    worker process when building in parallel."""
    texts, offset = work
    p_article, p_start, p_end, p_first = [], [], [], []
    s_article, s_start, s_end, s_passage, s_answerable = [], [], [], [], []
    sentences: list[str] = []
    for a_local, (text, title) in enumerate(texts):
        for passage in segment_article(text, title, rules):
            p_first.append(len(s_start))
            p_article.append(offset + a_local)
            p_start.append(passage.span.start)
            p_end.append(passage.span.end)
            for sentence in passage.sentences:
                s_article.append(offset + a_local)
                s_start.append(sentence.span.start)
                s_end.append(sentence.span.end)
                s_passage.append(len(p_start) - 1)
                s_answerable.append(sentence.answerable)
                sentences.append(text[sentence.span.start:sentence.span.end])
    if sentences:
        from sklearn.feature_extraction.text import CountVectorizer
        counter = CountVectorizer(analyzer=analyzer, dtype=np.float32)
        counts = counter.fit_transform(sentences).tocsr()
        vocabulary = counter.get_feature_names_out().tolist()
    else:
        counts, vocabulary = sp.csr_matrix((0, 0), dtype=np.float32), []
    return {
        "articles": len(texts), "vocabulary": vocabulary,
        "indptr": counts.indptr.astype(np.int64), "indices": counts.indices.astype(np.int32),
        "data": counts.data.astype(np.float32),
        "p_article": np.asarray(p_article, dtype=np.int32),
        "p_start": np.asarray(p_start, dtype=np.int64), "p_end": np.asarray(p_end, dtype=np.int64),
        "p_first": np.asarray(p_first, dtype=np.int64),
        "s_article": np.asarray(s_article, dtype=np.int32),
        "s_start": np.asarray(s_start, dtype=np.int64), "s_end": np.asarray(s_end, dtype=np.int64),
        "s_passage": np.asarray(s_passage, dtype=np.int64),
        "s_answerable": np.asarray(s_answerable, dtype=bool),
    }


def _merge(parts: list[dict[str, Any]]) -> tuple[sp.csr_matrix, list[str], dict[str, np.ndarray]]:
    """One sentence-by-term count matrix over one sorted vocabulary (as scikit-learn's
    ``CountVectorizer`` sorts it) from the chunks, and their spans renumbered."""
    vocabulary = sorted(set().union(*(p["vocabulary"] for p in parts)))
    position = {term: i for i, term in enumerate(vocabulary)}
    blocks = []
    spans: dict[str, list[np.ndarray]] = {k: [] for k in (
        "p_article", "p_start", "p_end", "p_first", "s_article", "s_start", "s_end",
        "s_passage", "s_answerable")}
    n_passages = n_sentences = 0
    for part in parts:
        remap = np.fromiter((position[t] for t in part["vocabulary"]), dtype=np.int32,
                            count=len(part["vocabulary"]))
        block = sp.csr_matrix((part["data"], remap[part["indices"]], part["indptr"]),
                              shape=(part["indptr"].size - 1, len(vocabulary)))
        block.sort_indices()
        blocks.append(block)
        for key in ("p_article", "p_start", "p_end", "s_article", "s_start", "s_end",
                    "s_answerable"):
            spans[key].append(part[key])
        spans["p_first"].append(part["p_first"] + n_sentences)
        spans["s_passage"].append(part["s_passage"] + n_passages)
        n_passages += part["p_start"].size
        n_sentences += part["s_start"].size
    counts = (sp.vstack(blocks, format="csr", dtype=np.float32) if blocks
              else sp.csr_matrix((0, 0), dtype=np.float32))
    return counts, vocabulary, {k: np.concatenate(v) for k, v in spans.items()}


def _bm25(counts: sp.csr_matrix, idf: np.ndarray, k1: float, b: float) -> sp.csr_matrix:
    """Each count replaced by its term's BM25 weight in its row."""
    counts = counts.tocsr()
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    mean = float(lengths.mean()) if lengths.size and lengths.mean() > 0 else 1.0
    row_norm = np.repeat((k1 * (1.0 - b + b * lengths / mean)).astype(np.float32),
                         np.diff(counts.indptr))
    tf = counts.data
    counts.data = (tf * (k1 + 1.0) / (tf + row_norm) * idf[counts.indices]).astype(np.float32)
    return counts
