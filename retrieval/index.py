"""The TF-IDF index: passages and sentences of a corpus as two sparse matrices over one
vocabulary, and the character spans that tie each row back to an article.

``TfidfIndex`` follows the scikit-learn pattern: parameters in ``__init__``, learned state in
attributes ending in ``_``, ``fit`` returns ``self``. ``save`` writes plain arrays, the
vocabulary and a manifest to a directory, atomically; ``load`` reads them and never refits.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize
from tqdm.auto import tqdm

from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import IndexFormatError
from retrieval.text import SegmentationRules, segment_article

FORMAT_VERSION = 1
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
                 rules: SegmentationRules | None = None) -> None:
        self.analyzer = analyzer or Analyzer()
        self.sublinear_tf = sublinear_tf
        self.rules = rules or SegmentationRules()

    # ----------------------------------------------------------------------------- building
    def fit(self, articles: Sequence[Article], *, fingerprint: str = "",
            progress: bool = False) -> "TfidfIndex":
        """Segment, analyse and weight ``articles``. Shows a progress bar when ``progress``."""
        p_article: list[int] = []
        p_start: list[int] = []
        p_end: list[int] = []
        p_first: list[int] = []
        s_article: list[int] = []
        s_start: list[int] = []
        s_end: list[int] = []
        s_passage: list[int] = []
        s_answerable: list[bool] = []
        for a_id, article in enumerate(tqdm(articles, desc="segmenting", unit="article",
                                            disable=not progress, leave=False)):
            for passage in segment_article(article.text, article.title, self.rules):
                p_first.append(len(s_start))
                p_article.append(a_id)
                p_start.append(passage.span.start)
                p_end.append(passage.span.end)
                for sentence in passage.sentences:
                    s_article.append(a_id)
                    s_start.append(sentence.span.start)
                    s_end.append(sentence.span.end)
                    s_passage.append(len(p_start) - 1)
                    s_answerable.append(sentence.answerable)
        n_passages, n_sentences = len(p_start), len(s_start)
        texts = (articles[a].text[s:e] for a, s, e in zip(s_article, s_start, s_end))
        counter = CountVectorizer(analyzer=self.analyzer, dtype=np.float32)
        if n_sentences:
            counts = counter.fit_transform(tqdm(texts, total=n_sentences, desc="indexing",
                                                unit="sentence", disable=not progress,
                                                leave=False)).tocsr()
            vocabulary = counter.get_feature_names_out().tolist()
        else:
            counts, vocabulary = sp.csr_matrix((0, 0), dtype=np.float32), []
        # A passage's term counts are the sum of its sentences' counts.
        membership = sp.csr_matrix(
            (np.ones(n_sentences, dtype=np.float32), (np.asarray(s_passage, dtype=np.int64),
                                                       np.arange(n_sentences))),
            shape=(n_passages, n_sentences))
        passage_counts = (membership @ counts).tocsr()
        weigher = TfidfTransformer(sublinear_tf=self.sublinear_tf, norm="l2", smooth_idf=True)
        if n_passages:
            weigher.fit(passage_counts)
            idf = weigher.idf_.astype(np.float32)
        else:
            idf = np.zeros(0, dtype=np.float32)
        self.vocabulary_: list[str] = vocabulary
        self.idf_ = idf
        self.passage_matrix_ = self._weigh(passage_counts).tocsc()
        self.sentence_matrix_ = self._weigh(counts).tocsr()
        self.passage_article_ = np.asarray(p_article, dtype=np.int32)
        self.passage_start_ = np.asarray(p_start, dtype=np.int64)
        self.passage_end_ = np.asarray(p_end, dtype=np.int64)
        self.passage_first_sentence_ = np.asarray(p_first + [n_sentences], dtype=np.int64)
        self.sentence_article_ = np.asarray(s_article, dtype=np.int32)
        self.sentence_start_ = np.asarray(s_start, dtype=np.int64)
        self.sentence_end_ = np.asarray(s_end, dtype=np.int64)
        self.sentence_passage_ = np.asarray(s_passage, dtype=np.int32)
        self.sentence_answerable_ = np.asarray(s_answerable, dtype=bool)
        self.article_ids_: list[str] = [a.id for a in articles]
        self.fingerprint_ = fingerprint
        self._prepare()
        return self

    def _weigh(self, counts: sp.csr_matrix) -> sp.csr_matrix:
        counts = counts.astype(np.float32, copy=True)
        if self.sublinear_tf:
            np.log(counts.data, out=counts.data)
            counts.data += 1.0
        weighted = counts @ sp.diags(self.idf_, format="csr") if counts.shape[1] else counts
        return normalize(weighted, norm="l2", copy=False).astype(np.float32)

    def _prepare(self) -> None:
        self._term_ids = {term: i for i, term in enumerate(self.vocabulary_)}

    # ----------------------------------------------------------------------------- querying
    @property
    def n_passages(self) -> int:
        return int(self.passage_start_.shape[0])

    @property
    def n_sentences(self) -> int:
        return int(self.sentence_start_.shape[0])

    def query_vector(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The question as (term ids, tf-idf weights), weighted as scikit-learn's
        ``TfidfTransformer`` would and l2-normalised over all its terms, those outside the
        vocabulary included; empty when no term of the question is in the vocabulary."""
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
        if self.sublinear_tf:
            tf = 1.0 + np.log(tf)
        weights = tf * self.idf_[ids]
        # A term no passage contains is as rare as a term can be: it keeps its share of the
        # question's norm, so a question about something else scores low, not perfectly.
        rarest = np.float32(np.log(self.n_passages + 1.0) + 1.0)
        unknown_tf = np.fromiter(unknown.values(), dtype=np.float32, count=len(unknown))
        if self.sublinear_tf:
            unknown_tf = 1.0 + np.log(unknown_tf)
        norm = np.sqrt(np.sum(weights ** 2) + np.sum((unknown_tf * rarest) ** 2))
        return ids, weights / norm

    def passage_scores(self, term_ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Cosine similarity of every passage with the question vector."""
        if term_ids.size == 0:
            return np.zeros(self.n_passages, dtype=np.float32)
        return np.asarray(self.passage_matrix_[:, term_ids] @ weights).ravel()

    def sentence_scores(self, sentence_ids: np.ndarray, term_ids: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """Cosine similarity of the given sentences with the question vector."""
        if term_ids.size == 0 or sentence_ids.size == 0:
            return np.zeros(sentence_ids.size, dtype=np.float32)
        rows = self.sentence_matrix_[sentence_ids][:, term_ids]
        return np.asarray(rows @ weights).ravel()

    def sentence_terms(self, sentence_ids: np.ndarray) -> sp.csr_matrix:
        """The tf-idf rows of the given sentences (for near-duplicate detection)."""
        return self.sentence_matrix_[sentence_ids]

    # ---------------------------------------------------------------------------- persisting
    def manifest_params(self) -> dict[str, Any]:
        """The parameters an index is built with, as recorded in its manifest."""
        return {
            "format_version": FORMAT_VERSION,
            "analyzer": self.analyzer.params(),
            "sublinear_tf": self.sublinear_tf,
            "rules": asdict(self.rules),
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
            index = cls(Analyzer(**manifest["analyzer"]), sublinear_tf=manifest["sublinear_tf"],
                        rules=SegmentationRules(**manifest["rules"]))
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
