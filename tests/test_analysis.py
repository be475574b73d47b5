"""The analyser's ``lemmatize`` option: irregular verb forms meet their verb before stemming
(issue 14: "said" and "say", "met" and "meet" never match), and nothing else changes. Off by
default (benchmarks/README.md, section 1b: it answers a seed question wrongly)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
from hypothesis import given, settings as hypothesis_settings
from hypothesis import strategies as st

from retrieval.analysis import Analyzer, english_stop_words
from retrieval.service import QAService

from tests.conftest import ROOT, needs_squad


def test_irregular_verb_forms_are_the_terms_of_their_verb():
    lemmatized, plain = Analyzer(lemmatize=True), Analyzer()
    for form, verb in (("said", "say"), ("met", "meet"), ("told", "tell"), ("went", "go"),
                       ("bought", "buy")):
        assert lemmatized(form) == lemmatized(verb), form
        assert plain(form) != plain(verb), form
    assert lemmatized("Biden proposed a meeting; the proposal was said to be new") == \
        ["biden", "propos", "meet", "propos", "say", "new"]


def test_nouns_adjectives_and_names_are_left_to_the_stemmer():
    text = "The best data on Lavrov's media reports about children in Russia"
    assert Analyzer(lemmatize=True)(text) == Analyzer()(text)


def test_a_verb_form_whose_verb_is_a_stop_word_is_dropped():
    assert Analyzer(lemmatize=True)("What did Lavrov mention?") == ["lavrov", "mention"]
    assert Analyzer(lemmatize=True)("did") == []


def test_the_setting_is_in_the_manifest_and_a_change_rebuilds(settings_for, tmp_path):
    assert Analyzer(lemmatize=True).params()["lemmatize"] is True
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    QAService(settings_for(corpus))
    changed = QAService(settings_for(corpus, **{"retrieval.lemmatize": True}))
    assert changed.last_load.rebuilt
    assert changed.last_load.reason == "the retrieval settings changed"


def test_the_verb_forms_table_is_read_without_lemminflect():
    code = ("import sys; from retrieval.analysis import Analyzer; "
            "assert Analyzer(lemmatize=True, stop_list=frozenset())('said') == ['say']; "
            "assert 'lemminflect' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------ many texts at once, as the index build reads them

# Pieces that exercise the tokenizer: ASCII and other letters, digits, "'s" in both cases and
# with a typographic apostrophe, underscores, compatibility characters NFKC rewrites
# (fullwidth letters, ligatures), case folding that changes length ("ß", "İ"), combining
# marks (also at a text's start), stop words, the analyzers' separator itself.
_PIECES = st.sampled_from([
    "the", "The", "of", "said", "told", "did", "Running", "runs", "U.S.", "it's", "IT'S",
    "Russia’s", "'s", "s", "x_y", "_", "__a", "3.5", "2008", "ﬁnance", "ＡＢＣ", "Straße",
    "İstanbul", "é", "e\u0301", "\u0301a", "naïve", "ǅ", "²", "½", " ", "  ", "\t", "\n",
    "\u00a0", ".", ",", "-", "—", "!", "?", "\"", "“", "(", "\x00", "\x01", "a", "Z", "9",
])
_TEXT = st.lists(_PIECES, max_size=12).map("".join)


_STOP = english_stop_words()


def _numbered_as_lists(analyzer: Analyzer, texts: list[str]) -> list[list[str]]:
    vocabulary, terms, indptr = analyzer.numbered(texts)
    assert vocabulary == sorted(set(vocabulary))
    assert terms.dtype == np.int32 and indptr.shape == (len(texts) + 1,) and indptr[0] == 0
    words = [vocabulary[t] for t in terms.tolist()]
    return [words[a:b] for a, b in zip(indptr.tolist(), indptr.tolist()[1:])]


@hypothesis_settings(max_examples=150, deadline=None)
@given(st.lists(_TEXT, max_size=8), st.sampled_from([
    {}, {"lemmatize": True}, {"stem": False}, {"stop_words": False}, {"bigrams": True}]))
def test_numbered_gives_each_texts_terms_as_analysing_it_alone(texts, params):
    analyzer = Analyzer(**params, stop_list=_STOP)
    expected = [analyzer(text) for text in texts]
    assert _numbered_as_lists(analyzer, texts) == expected
    vocabulary = analyzer.numbered(texts)[0]
    assert vocabulary == sorted({t for terms in expected for t in terms})


@needs_squad
def test_numbered_on_real_sentences_matches_analysing_each():
    from benchmarks.data import load_squad
    articles, _ = load_squad()
    texts = [s for a in articles[:300] for s in a.text.split(". ")]
    assert any(not t.isascii() for t in texts) and any(t.isascii() for t in texts)
    analyzer = Analyzer()
    assert _numbered_as_lists(analyzer, texts) == [analyzer(t) for t in texts]


def test_the_stop_list_is_read_without_importing_scikit_learn():
    code = ("import sys; from retrieval.analysis import english_stop_words; "
            "print(len(english_stop_words()), 'sklearn' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(len(english_stop_words())), "False"]
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from retrieval.analysis import _KEEP
    assert english_stop_words() == frozenset(ENGLISH_STOP_WORDS - _KEEP)
