"""The analyser's ``lemmatize`` option: irregular verb forms meet their verb before stemming
(issue 14: "said" and "say", "met" and "meet" never match), and nothing else changes. Off by
default (benchmarks/README.md, section 1b: it answers a seed question wrongly)."""
from __future__ import annotations

import shutil
import subprocess
import sys

from retrieval.analysis import Analyzer
from retrieval.service import QAService

from tests.conftest import ROOT


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
