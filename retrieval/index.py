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
vocabulary and a manifest as a new generation of an index directory, committed atomically
(``retrieval.storage``); ``load`` reads them, checks them and never refits.
"""
from __future__ import annotations

import io
import json
import zlib
from concurrent.futures import ProcessPoolExecutor
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from tqdm.auto import tqdm

from retrieval import storage
from retrieval.analysis import Analyzer
from retrieval.corpus import Article
from retrieval.errors import IndexFormatError
from retrieval.text import SegmentationRules, segment_article

FORMAT_VERSION = 5
WEIGHTINGS = ("tfidf", "bm25")
_ARRAYS = ("idf", "article_length", "passage_article", "passage_start", "passage_end",
           "passage_first_sentence", "sentence_article", "sentence_start", "sentence_end",
           "sentence_passage", "sentence_answerable", "sentence_hash")
# Saved as their three arrays (``NAME.data.npy``, ``.indices.npy``, ``.indptr.npy``): every
# file of an index is a plain .npy array or JSON, read without a copy after its checksum.
_MATRICES = {"passage_matrix": sp.csc_matrix, "sentence_matrix": sp.csr_matrix}
_MATRIX_PARTS = ("data", "indices", "indptr")
_NPY_HEADER_MAX = 1 << 16  # numpy writes headers of a few hundred bytes


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
            corpus_files: Sequence[Mapping[str, Any]] = (), progress: bool = False,
            n_jobs: int = 1) -> "TfidfIndex":
        """Segment, analyse and weight ``articles``. Shows a progress bar when ``progress``.
        ``fingerprint`` and ``corpus_files`` (what the corpus was read from) are kept in the
        manifest, to tell later whether the corpus changed.

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
        s_article, s_start, s_end, s_passage, s_answerable, s_hash = (
            spans[k] for k in ("s_article", "s_start", "s_end", "s_passage", "s_answerable",
                               "s_hash"))
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
        self.sentence_hash_ = np.asarray(s_hash, dtype=np.uint32)
        self.article_ids_: list[str] = [a.id for a in articles]
        self.article_length_ = np.fromiter((len(a.text) for a in articles), dtype=np.int64,
                                           count=len(articles))
        self.fingerprint_ = fingerprint
        self.corpus_files_ = tuple(dict(f) for f in corpus_files)
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
            # The stored weights hold the idf already: a term's query weight is its count
            # over the question's idf mass, so a score is the share of that mass matched.
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
        # A row with no terms (a sentence of stop words only) keeps its zeros.
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1), dtype=np.float64).ravel())
        norms[norms == 0] = 1.0
        rows.data /= np.repeat(norms, np.diff(rows.indptr)).astype(np.float32)
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
            "corpus_files": list(self.corpus_files_),
            "articles": len(self.article_ids_),
            "passages": self.n_passages,
            "sentences": self.n_sentences,
            "terms": len(self.vocabulary_),
        }

    def save(self, path: str | Path) -> Path:
        """Write the index as a new generation of index directory ``path`` and commit it
        atomically (see ``retrieval.storage``): a reader sees the previous or the new index,
        whenever a save is interrupted. Raises ``IndexLocationError`` when ``path`` is not an
        index of ours and ``OSError`` when it cannot be written."""
        root = Path(path)
        storage.save_generation(root, self._write)
        return root

    def _write(self, directory: Path) -> dict[str, Any]:
        arrays = {name: getattr(self, f"{name}_") for name in _ARRAYS}
        for name in _MATRICES:
            matrix = getattr(self, f"{name}_")
            arrays.update({f"{name}.{part}": getattr(matrix, part) for part in _MATRIX_PARTS})
        for name, array in arrays.items():
            storage.write_with(directory / f"{name}.npy",
                               lambda f, a=array: np.save(f, a, allow_pickle=False))
        # The stop list travels with the index: questions are analysed as the passages
        # were, whatever scikit-learn's list becomes, and without importing it.
        for name, value in (("vocabulary", self.vocabulary_), ("articles", self.article_ids_),
                            ("stop_words", sorted(self.analyzer.stop_set()))):
            data = json.dumps(value, ensure_ascii=False).encode("utf-8")
            storage.write_with(directory / f"{name}.json", lambda f, d=data: f.write(d))
        return self.manifest()

    @classmethod
    def read_manifest(cls, path: str | Path) -> dict[str, Any] | None:
        """The manifest of a saved index, or None when there is no usable one."""
        return storage.read_manifest(Path(path))

    @classmethod
    def load(cls, path: str | Path) -> "TfidfIndex":
        """Read an index written by ``save``, verifying every file against the sizes and
        hashes of its manifest and the arrays' values against each other. Raises
        ``IndexFormatError`` when it is missing, of another format version or damaged."""
        root = Path(path)
        return storage.load_generation(root, lambda files: cls._read(root, files))

    @classmethod
    def _read(cls, root: Path, files: storage.VerifiedFiles) -> "TfidfIndex":
        manifest = files.manifest
        if manifest.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(f"index at {root} has format version "
                                   f"{manifest.get('format_version')}, expected {FORMAT_VERSION}; "
                                   "rebuild it with `qabot index`")

        def load_json(name: str) -> Any:
            return json.loads(files.read(f"{name}.json").tobytes().decode("utf-8"))

        try:
            index = cls(Analyzer(**manifest["analyzer"], stop_list=frozenset(load_json("stop_words"))),
                        sublinear_tf=manifest["sublinear_tf"],
                        rules=SegmentationRules(**manifest["rules"]),
                        weighting=manifest["weighting"], **manifest["bm25"])
            for name in _ARRAYS:
                setattr(index, f"{name}_", _npy(files.read(f"{name}.npy")))
            index.vocabulary_ = load_json("vocabulary")
            rows = {"passage_matrix": index.passage_start_.size,
                    "sentence_matrix": index.sentence_start_.size}
            for name, kind in _MATRICES.items():
                parts = tuple(_npy(files.read(f"{name}.{part}.npy")) for part in _MATRIX_PARTS)
                setattr(index, f"{name}_", kind(parts, shape=(rows[name], len(index.vocabulary_))))
            index.article_ids_ = load_json("articles")
            index.fingerprint_ = manifest["fingerprint"]
            index.corpus_files_ = tuple(manifest.get("corpus_files", ()))
        except (FileNotFoundError, IndexFormatError):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever a damaged file makes numpy raise
            raise IndexFormatError(f"index at {root} is damaged ({type(exc).__name__}: {exc}); "
                                   "rebuild it with `qabot index`") from None
        problem = index._inconsistency()
        if problem:
            raise IndexFormatError(f"index at {root} is damaged ({problem}); "
                                   "rebuild it with `qabot index`")
        index._prepare()
        return index

    def _inconsistency(self) -> str | None:
        """What is wrong with the loaded arrays, or None: cheap checks of shapes and value
        ranges that a damaged file of a valid format would fail."""
        n_terms, n_articles = len(self.vocabulary_), len(self.article_ids_)
        n_p, n_s = self.n_passages, self.n_sentences
        vocabulary = self.vocabulary_
        if not isinstance(vocabulary, list) or not all(isinstance(t, str) for t in vocabulary) \
                or any(a >= b for a, b in zip(vocabulary, vocabulary[1:])):
            return "the vocabulary is not sorted and unique"
        if self.idf_.shape != (n_terms,) or not np.all(np.isfinite(self.idf_)) \
                or not np.all(self.idf_ > 0):
            return "idf weights are not finite and positive"
        for name in _ARRAYS:
            array = getattr(self, f"{name}_")
            expected = (n_terms if name == "idf" else n_articles if name.startswith("article")
                        else n_p + 1 if name == "passage_first_sentence"
                        else n_p if name.startswith("passage") else n_s)
            if array.ndim != 1 or array.shape[0] != expected:
                return f"{name} has {array.shape} entries, expected {expected}"
        if self.passage_matrix_.shape != (n_p, n_terms) or \
                self.sentence_matrix_.shape != (n_s, n_terms):
            return "matrix shapes disagree"
        for matrix in (self.passage_matrix_, self.sentence_matrix_):
            if not np.all(np.isfinite(matrix.data)) or (
                    matrix.nnz and (matrix.indices.min() < 0 or matrix.indices.max() >= (
                        matrix.shape[0] if sp.isspmatrix_csc(matrix) else matrix.shape[1]))):
                return "a term-weight matrix holds invalid entries"
        first = self.passage_first_sentence_
        if first[0] != 0 or first[-1] != n_s or np.any(np.diff(first) < 0) or not np.array_equal(
                self.sentence_passage_, np.repeat(np.arange(n_p), np.diff(first))):
            return "sentences and passages disagree"
        for kind, article, start, end in (
                ("passage", self.passage_article_, self.passage_start_, self.passage_end_),
                ("sentence", self.sentence_article_, self.sentence_start_, self.sentence_end_)):
            if article.size and (article.min() < 0 or article.max() >= n_articles):
                return f"{kind} article numbers out of range"
            if np.any(start < 0) or np.any(end < start) or \
                    np.any(end > self.article_length_[article]):
                return f"{kind} spans out of range of their articles"
            same = article[1:] == article[:-1]
            if np.any(article[1:] < article[:-1]) or np.any(same & (start[1:] < end[:-1])):
                return f"{kind} spans out of order"
        if not np.array_equal(self.passage_article_[self.sentence_passage_],
                              self.sentence_article_):
            return "sentences and passages disagree"
        return None

    def check_quote(self, sentence_id: int, text: str) -> None:
        """Raise ``IndexFormatError`` unless ``text`` (the span quoted for sentence
        ``sentence_id``) is the sentence that was indexed: the index no longer fits the
        articles, and the quote would not be the sentence it claims to be."""
        if _text_hash(text) != int(self.sentence_hash_[sentence_id]):
            raise IndexFormatError("the index does not match the articles (a quoted span is "
                                   "not the sentence that was indexed); rebuild it with "
                                   "`qabot index`")

    def matches(self, articles: Sequence[Article]) -> bool:
        """Whether this index was built from these articles (same ids, same text lengths)."""
        return self.article_ids_ == [a.id for a in articles] and np.array_equal(
            self.article_length_, np.fromiter((len(a.text) for a in articles), dtype=np.int64,
                                              count=len(articles)))


def _npy(data: np.ndarray) -> np.ndarray:
    """The array of a ``.npy`` file's bytes, without copying them."""
    stream = io.BytesIO(data[:_NPY_HEADER_MAX].tobytes())
    version = np.lib.format.read_magic(stream)
    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
              else np.lib.format.read_array_header_2_0)
    shape, fortran_order, dtype = reader(stream)
    if dtype.hasobject:
        raise ValueError("an array of Python objects")
    count = int(np.prod(shape, dtype=np.int64))
    array = np.frombuffer(data, dtype=dtype, count=count, offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C")


def _text_hash(text: str) -> int:
    """A 32-bit checksum of a sentence's text, stored at build time and compared when quoting."""
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


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
    s_article, s_start, s_end, s_passage, s_answerable, s_hash = [], [], [], [], [], []
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
                s_hash.append(_text_hash(sentences[-1]))
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
        "s_hash": np.asarray(s_hash, dtype=np.uint32),
    }


def _merge(parts: list[dict[str, Any]]) -> tuple[sp.csr_matrix, list[str], dict[str, np.ndarray]]:
    """One sentence-by-term count matrix over one sorted vocabulary (as scikit-learn's
    ``CountVectorizer`` sorts it) from the chunks, and their spans renumbered."""
    vocabulary = sorted(set().union(*(p["vocabulary"] for p in parts)))
    position = {term: i for i, term in enumerate(vocabulary)}
    blocks = []
    spans: dict[str, list[np.ndarray]] = {k: [] for k in (
        "p_article", "p_start", "p_end", "p_first", "s_article", "s_start", "s_end",
        "s_passage", "s_answerable", "s_hash")}
    n_passages = n_sentences = 0
    for part in parts:
        remap = np.fromiter((position[t] for t in part["vocabulary"]), dtype=np.int32,
                            count=len(part["vocabulary"]))
        block = sp.csr_matrix((part["data"], remap[part["indices"]], part["indptr"]),
                              shape=(part["indptr"].size - 1, len(vocabulary)))
        block.sort_indices()
        blocks.append(block)
        for key in ("p_article", "p_start", "p_end", "s_article", "s_start", "s_end",
                    "s_answerable", "s_hash"):
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
