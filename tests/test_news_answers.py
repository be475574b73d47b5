"""Answers on real news (issue 21): the word vectors read offline, the asked-for detail, the
reaction cue, and RealTimeQA's scoring rule."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from benchmarks.data import holds_answer, normal_answer
from retrieval.analysis import Analyzer
from retrieval.answer.cues import asks_reaction, read_cues
from retrieval.answer.detail import DetailReader
from retrieval.answer.semantic import WordVectors, WordVectorsError, shipped_vectors
from tests.conftest import ROOT


# ------------------------------------------------------------------------------ vectors
def test_word_vectors_tell_paraphrases_from_unrelated_words():
    vectors = shipped_vectors()
    kids, children, weather = vectors.of(["kids", "children", "weather"])
    assert float(kids @ children) > 0.7 > 0.3 > float(kids @ weather)
    assert np.allclose(np.linalg.norm(vectors.of(["ban", "prohibit"]), axis=1), 1.0, atol=1e-5)
    bag = vectors.mean_of([["ban", "adoption"], []])
    assert bag.shape == (2, vectors.dimensions) and not bag[1].any()


def test_word_vectors_are_read_from_the_package_files_without_its_loader_or_the_network():
    code = ("import socket, sys\n"
            "def refuse(*a, **k): raise OSError('no network')\n"
            "socket.socket.connect = refuse\n"
            "from retrieval.answer.semantic import shipped_vectors\n"
            "v = shipped_vectors().of(['kids'])\n"
            "print('wordllama' in sys.modules, v.shape)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          check=True)
    assert done.stdout.split() == ["False", "(1,", "256)"]


def test_missing_word_vectors_say_what_to_do(tmp_path):
    with pytest.raises(WordVectorsError, match="reinstall wordllama"):
        WordVectors.load(tmp_path)


# ------------------------------------------------------------------------------ detail
def detail(question: str, sentences: list[str]) -> dict[str, np.ndarray]:
    reader = DetailReader(Analyzer(), shipped_vectors())
    asked = reader.question(question, lambda terms: np.ones(len(terms)))
    return reader.features(question, read_cues(question), asked, sentences)


def test_the_detail_asked_for_beyond_the_question_s_words():
    f = detail("Which team does Damar Hamlin play for?",
               ["Damar Hamlin plays for the Buffalo Bills.", "Damar Hamlin is recovering."])
    assert f["new_name"].tolist() == [1.0, 0.0]          # "Buffalo Bills" is not asked
    assert f["names_missing"].tolist() == [0.0, 0.0]
    f = detail("How many people died in the 2013 floods?",
               ["In 2013, 42 people died in the floods.", "The floods killed many people."])
    assert f["new_number"].tolist() == [1.0, 0.0] and f["numbers_missing"].tolist() == [0.0, 1.0]


def test_a_paraphrase_counts_by_its_closeness():
    f = detail("what happened to the kids?", ["The children were safe.", "The weather was fine."])
    assert f["soft_match"][0] > f["soft_match"][1]
    assert f["semantic"][0] > f["semantic"][1]


# ------------------------------------------------------------------------------ reaction
def test_why_and_reaction_questions_are_recognised():
    assert asks_reaction("How did Moscow react when Obama signed the Magnitsky Act?")
    assert asks_reaction("why did russia ban adoptions?")
    assert asks_reaction("how did russia retaliate?")
    assert not asks_reaction("What is the Dima Yakovlev Law?")


def test_the_reaction_in_the_paragraph_after_the_event_scores_second(service):
    """The issue's example: the answer ("Moscow condemned the move") is the sentence after
    the signing's, in the next paragraph; it scored 8th. Now it is read and scores with the
    signing's sentence (the ranker still puts it lower: benchmarks/README.md, section 0)."""
    ranked = service.ask("How did Moscow react when Obama signed the Magnitsky Act?",
                         top_k=10).ranked
    by_score = sorted(ranked, key=lambda a: -a.score)
    assert by_score[1].text.startswith("Moscow condemned the move")


# ------------------------------------------------------------------------------ rule
@pytest.mark.parametrize(("answer", "sentence", "held"), [
    ("1,277", "The toll rose to 1277 on Monday.", True),
    ("“Let’s Get It On” — Marvin Gaye", "He sang let's get it on, Marvin Gaye's hit.", True),
    ("11", "There were 110 of them.", False),
    ("51.5%", "Turnout was 51.5 percent.", True),
    ("Pelé", "Pele scored twice.", True),
])
def test_realtimeqa_s_rule_reads_whole_normalised_words(answer, sentence, held):
    assert holds_answer(normal_answer(answer), sentence) is held


# ------------------------------------------------------------------------------ damage
@pytest.mark.parametrize("compiled", [False, True])
def test_an_impossible_posting_is_skipped_by_both_first_stages(service, compiled):
    """A flipped bit the sampled checksums of a large segment missed (issue 22): a posting
    that names a passage the segment does not have is skipped, never read out of bounds."""
    from retrieval.answer.passages import PassageSearcher
    index = service._state.answerer.index
    arrays = index.segments_[0].arrays
    ids = np.array(arrays.passage_ids)
    term = int(np.argmax(np.diff(np.asarray(arrays.passage_indptr))))   # a term with postings
    lo = int(arrays.passage_indptr[term])
    damaged = ids.copy()
    damaged[lo] = 10 ** 9
    object.__setattr__(arrays, "passage_ids", damaged) if hasattr(arrays, "__dataclass_fields__") \
        else setattr(arrays, "passage_ids", damaged)
    try:
        global_term = int(np.flatnonzero(index._to_local[0] == term)[0])
        searcher = PassageSearcher(index, compiled=compiled)
        best = searcher.best_passages(np.array([global_term]), np.array([1.0], dtype=np.float32), 5)
        assert np.all(np.asarray(best.passage_ids) < index.n_passages)
    finally:
        object.__setattr__(arrays, "passage_ids", ids) if hasattr(arrays, "__dataclass_fields__") \
            else setattr(arrays, "passage_ids", ids)


def test_a_question_in_capitals_names_nothing_by_its_case():
    shouted = detail("WHO SAID THE RESET WAS OVER?", ["Lavrov announced an end to the reset."])
    typed = detail("who said the reset was over?", ["Lavrov announced an end to the reset."])
    assert shouted["names_missing"].tolist() == typed["names_missing"].tolist() == [0.0]
