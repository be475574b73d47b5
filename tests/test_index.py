"""The saved index: round trip, atomic writes, damage detection, and agreement with
scikit-learn's own TF-IDF weighting."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from retrieval.corpus import load_corpus
from retrieval.errors import IndexFormatError
from retrieval.index import TfidfIndex

from tests.conftest import ROOT, generation, segment


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(ROOT / "corpus")


@pytest.fixture(scope="module")
def fitted(corpus):
    return TfidfIndex().fit(corpus.articles, fingerprint=corpus.fingerprint)


def test_save_and_load_give_the_same_scores(fitted, tmp_path):
    fitted.save(tmp_path / "idx")
    loaded = TfidfIndex.load(tmp_path / "idx")
    question = "What did the reset button say because of the translation error?"
    ids, weights = fitted.query_vector(question)
    ids2, weights2 = loaded.query_vector(question)
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_allclose(fitted.passage_scores(ids, weights), loaded.passage_scores(ids2, weights2))
    assert loaded.manifest() == fitted.manifest()


def test_query_weights_match_scikit_learn(fitted, corpus):
    # Our question vector is scikit-learn's tf-idf vector for the same analyser and idf.
    vectorizer = TfidfVectorizer(analyzer=fitted.analyzer, sublinear_tf=True,
                                 vocabulary={t: i for i, t in enumerate(fitted.vocabulary_)})
    vectorizer.fit(["placeholder"])
    vectorizer.idf_ = fitted.idf_.astype(np.float64)
    question = "Lavrov reset reset Moscow"
    expected = vectorizer.transform([question]).toarray().ravel()
    ids, weights = fitted.query_vector(question)
    dense = np.zeros(len(fitted.vocabulary_))
    dense[ids] = weights
    np.testing.assert_allclose(dense, expected, rtol=1e-5)


def test_unknown_words_lower_the_score(fitted):
    ids, weights = fitted.query_vector("Lavrov")
    ids2, weights2 = fitted.query_vector("Lavrov zanzibar")
    assert weights2.sum() < weights.sum()


def test_a_crash_while_saving_leaves_the_previous_index(fitted, tmp_path, monkeypatch):
    target = tmp_path / "idx"
    fitted.save(target)
    before = sorted(p.name for p in target.iterdir())

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("retrieval.index.segment.np.save", boom)
    with pytest.raises(OSError):
        fitted.save(target)
    assert sorted(p.name for p in target.iterdir()) == before
    assert TfidfIndex.load(target).n_sentences == fitted.n_sentences
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temporary left behind


def test_missing_index(tmp_path):
    with pytest.raises(IndexFormatError, match="no index"):
        TfidfIndex.load(tmp_path / "nothing")


def test_other_format_version(fitted, tmp_path):
    fitted.save(tmp_path / "idx")
    manifest_file = generation(tmp_path / "idx") / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["format_version"] = 999
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="format version 999"):
        TfidfIndex.load(tmp_path / "idx")


def test_damaged_index(fitted, tmp_path):
    fitted.save(tmp_path / "idx")
    (segment(tmp_path / "idx") / "sentence_terms.npy").write_bytes(b"garbage")
    with pytest.raises(IndexFormatError, match="damaged"):
        TfidfIndex.load(tmp_path / "idx")


def test_a_loaded_index_keeps_its_stop_list_and_needs_no_scikit_learn(fitted, tmp_path):
    import subprocess
    import sys
    fitted.save(tmp_path / "idx")
    assert TfidfIndex.load(tmp_path / "idx").analyzer.stop_set() == fitted.analyzer.stop_set()
    code = ("import sys; from retrieval.index import TfidfIndex; "
            f"i = TfidfIndex.load({str(tmp_path / 'idx')!r}); "
            "ids, w = i.query_vector('the Dima Yakovlev Law'); i.passage_scores(ids, w); "
            "print('sklearn' in sys.modules, len(ids))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.split() == ["False", "3"]  # "the" is a stop word; start-up stays fast


def test_duplicate_folding_vectors_allow_a_sentence_of_stop_words_last():
    """A sentence of stop words only has no terms; as the last of the rows it made
    ``np.add.reduceat`` raise IndexError, and the question failed."""
    from retrieval.corpus import Article
    text = ("The committee approved the new harbour budget on Monday morning. "
            "It was all that they had.")
    index = TfidfIndex(weighting="bm25").fit([Article("a", "T", "S", text)])
    empty = [i for i in range(index.n_sentences) if index.sentence_matrix_[i].nnz == 0]
    assert empty, "the corpus must hold a sentence of stop words only"
    full = next(i for i in range(index.n_sentences) if index.sentence_matrix_[i].nnz)
    cosines = index.sentence_cosines(np.array([full, empty[0]]))
    np.testing.assert_allclose(cosines.diagonal(), [1.0, 0.0], rtol=1e-5)


def test_sentence_rows_agree_with_the_sparse_matrix(corpus):
    """The candidates' rows (computed once per question, without scipy) read the same
    values as the whole weighted sentence matrix, whatever rows are taken in whatever order,
    and score sentences as the matrix does."""
    index = TfidfIndex(weighting="bm25").fit(corpus.articles)
    matrix = index.sentence_matrix_
    ids = np.array([7, 3, 3, 0, index.n_sentences - 1])
    rows = index.sentence_weight_rows(ids)
    np.testing.assert_array_equal(rows.csr(len(index.vocabulary_)).toarray(),
                                  matrix[ids].toarray())
    taken = rows.take(np.array([4, 0]))
    np.testing.assert_array_equal(taken.csr(len(index.vocabulary_)).toarray(),
                                  matrix[ids[[4, 0]]].toarray())
    term_ids, weights = index.query_vector("What did the reset button say in Russian?")
    np.testing.assert_array_equal(rows.columns(term_ids), matrix[ids][:, term_ids].toarray())
    expected = matrix[ids][:, term_ids].toarray() @ weights
    np.testing.assert_allclose(index.sentence_scores(ids, term_ids, weights, rows), expected,
                               rtol=1e-6)


def test_a_corpus_of_stop_words_only_is_indexed(tmp_path):
    """A batch whose sentences hold stop words only made scikit-learn's counter raise
    "empty vocabulary", and the build failed with a traceback; its index now has no terms,
    and a question finds nothing in it."""
    from retrieval.corpus import Article
    from retrieval.index import build
    articles = [Article("a", "T", "S", "It was all that they had. And so it was, for them.")]
    index = TfidfIndex(weighting="bm25")
    build(index, tmp_path / "idx", articles, jobs=1)
    loaded = TfidfIndex.load(tmp_path / "idx")
    assert loaded.vocabulary_ == [] and loaded.n_sentences == 2
    ids, _ = loaded.query_vector("What did they have?")
    assert ids.size == 0
