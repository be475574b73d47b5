"""Step 5a: a candidate sentence's wording against the question's, beyond the terms they
share: an opposite word (the question asks for the largest, the sentence tells the smallest),
the order of the question's terms in the sentence (who did what to whom), the question's
phrases kept together, and a number of the question the sentence does not hold.

Each tells a question the sentence answers from a near-miss that shares its words, as SQuAD
2.0's unanswerable questions are often written (antonyms are a fifth of them in its authors'
count, swapped entities another fifth). Many of the opposite words are stop words ("first",
"last", "most", "before"), which the index does not keep: they are read from the words."""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

_PAIRS = """
largest smallest, large small, biggest smallest, big small, bigger smaller, larger smaller,
highest lowest, high low, higher lower, longest shortest, long short, longer shorter,
most least, more less, more fewer, first last, earliest latest, early late, earlier later,
before after, increase decrease, increased decreased, increases decreases, rise fall,
rose fell, gain loss, gained lost, win lose, won lost, wins loses, victory defeat,
north south, northern southern, northernmost southernmost, east west, eastern western,
easternmost westernmost, upper lower, inside outside, internal external, inner outer,
maximum minimum, major minor, majority minority, best worst, better worse, old new,
older newer, oldest newest, young old, younger older, youngest oldest, ancient modern,
positive negative, strong weak, stronger weaker, strongest weakest, rich poor,
richest poorest, wealthy poor, hot cold, hottest coldest, warm cool, warmer cooler,
wet dry, wettest driest, heavy light, heaviest lightest, fast slow, faster slower,
fastest slowest, open closed, opened closed, start end, started ended, begin end,
began ended, beginning end, accept reject, accepted rejected, allow forbid,
allowed forbidden, allowed banned, legal illegal, public private, domestic foreign,
import export, imports exports, imported exported, buy sell, bought sold, buyer seller,
above below, top bottom, success failure, successful unsuccessful, succeeded failed,
common rare, cheap expensive, male female, men women, man woman, father mother,
son daughter, husband wife, king queen, brother sister, boy girl, boys girls, deep shallow,
deepest shallowest, wide narrow, widest narrowest, thick thin, agree disagree,
agreed disagreed, support oppose, supported opposed, include exclude, included excluded,
arrive depart, arrived departed, birth death, born died, attack defend, attacked defended,
ally enemy, allies enemies, friend enemy, past future, previous next, rural urban,
full empty, front back, input output, send receive, sent received, lend borrow,
lent borrowed, teach learn, taught learned, entrance exit, increase reduce,
increased reduced, raise lower, raised lowered, add remove, added removed, win defeat,
winner loser, winners losers, inbound outbound, senior junior, hard soft, harder softer,
hardest softest, safe dangerous, easy difficult, easiest hardest, simple complex,
official unofficial, legally illegally, able unable, possible impossible, likely unlikely,
known unknown, married divorced, employed unemployed, alive dead, living dead,
sell purchase, sold purchased, above beneath, upstream downstream, uphill downhill,
offensive defensive, offense defense
"""


def _antonyms(pairs: str) -> Mapping[str, frozenset[str]]:
    table: dict[str, frozenset[str]] = {}
    for pair in pairs.replace("\n", " ").split(","):
        if not pair.strip():
            continue
        a, b = pair.split()
        table[a] = table.get(a, frozenset()) | {b}
        table[b] = table.get(b, frozenset()) | {a}
    return MappingProxyType(table)


ANTONYMS = _antonyms(_PAIRS)

_WORD = re.compile(r"[a-z]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# Two terms of the question next to each other are kept together in a sentence when the
# second comes at most this many (analysed) terms after the first there.
PHRASE_WINDOW = 3


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def antonym_unmet(question: str, sentences: Sequence[str]) -> np.ndarray:
    """For each sentence, whether it says the opposite of a word of the question: it lacks
    the word and holds one of its antonyms ("smallest" for "largest")."""
    asked = [w for w in _words(question) if w in ANTONYMS]
    if not asked:
        return np.zeros(len(sentences), dtype=bool)
    out = []
    for sentence in sentences:
        held = _words(sentence)
        out.append(any(w not in held and ANTONYMS[w] & (held - _words(question)) for w in asked))
    return np.array(out, dtype=bool)


def order_kept(question_terms: Sequence[str], sentence_terms: Sequence[Sequence[str]]
               ) -> np.ndarray:
    """For each sentence (its analysed terms), the share of the question's terms (analysed,
    in the question's order) that the sentence holds in the same order: of each two
    consecutive ones it holds, whether the second comes after the first there. 1.0 when it
    holds fewer than two."""
    out = []
    for terms in sentence_terms:
        first: dict[str, int] = {}
        for position, term in enumerate(terms):
            first.setdefault(term, position)
        positions = [first[t] for t in dict.fromkeys(question_terms) if t in first]
        pairs = len(positions) - 1
        out.append(1.0 if pairs < 1 else
                   sum(b > a for a, b in zip(positions, positions[1:])) / pairs)
    return np.array(out, dtype=np.float64)


def phrases_kept(question_terms: Sequence[str], sentence_terms: Sequence[Sequence[str]]
                 ) -> np.ndarray:
    """For each sentence (its analysed terms), the share of the question's pairs of
    consecutive terms that it holds together, in the same order (the second at most
    ``PHRASE_WINDOW`` terms after the first): "Westinghouse sold ... to Tesla" keeps none of
    "Tesla sell Westinghouse". 0.0 when the question has fewer than two terms."""
    pairs = list(zip(question_terms, question_terms[1:]))
    out = np.zeros(len(sentence_terms))
    if not pairs:
        return out
    for i, terms in enumerate(sentence_terms):
        near = {(a, b) for k, a in enumerate(terms) for b in terms[k + 1:k + 1 + PHRASE_WINDOW]}
        out[i] = sum(p in near for p in pairs) / len(pairs)
    return out


def numbers_unmet(question: str, sentences: Sequence[str]) -> np.ndarray:
    """For each sentence, whether the question names a number (written in digits: a year, a
    count) that the sentence does not hold."""
    asked = set(_NUMBER.findall(question))
    if not asked:
        return np.zeros(len(sentences), dtype=bool)
    return np.array([not asked <= set(_NUMBER.findall(s)) for s in sentences], dtype=bool)


def names_unmet(question: str, sentence_terms: Sequence[Sequence[str]],
                analyze: Callable[[str], list[str]]) -> np.ndarray:
    """For each sentence (its analysed terms), the share of the names of the question
    (capitalised words after its first word, analysed) that it does not hold: "What did
    John Kerry tell Ivanov?" asks about Ivanov, which "John Kerry ... told reporters" lacks.
    A word beginning with a name of four letters or more holds it ("Russian", "Russia").
    0.0 when the question names nothing."""
    words = re.findall(r"[^\W_]+", question)[1:]
    names = {t for w in words if w[:1].isupper() for t in analyze(w) if " " not in t}
    if not names:
        return np.zeros(len(sentence_terms))

    def held(name: str, terms: set[str]) -> bool:   # "Russia" is held by "Russian" too
        return name in terms or (len(name) >= 4 and any(t.startswith(name) for t in terms))

    return np.array([sum(not held(n, set(terms)) for n in names) / len(names)
                     for terms in sentence_terms])


@dataclass(frozen=True, eq=False)
class Wording:
    """How each candidate sentence's words stand to the question's (a value per sentence)."""

    antonym_unmet: np.ndarray
    order_kept: np.ndarray
    phrases_kept: np.ndarray
    number_unmet: np.ndarray
    name_unmet: np.ndarray


def read_wording(question: str, sentences: Sequence[str],
                 analyze: Callable[[str], list[str]]) -> Wording:
    """The wording features of each of ``sentences`` against ``question``, analysed by
    ``analyze`` (the index's analyzer)."""
    def terms(text: str) -> list[str]:   # words only (an analyzer may add bigrams)
        return [t for t in analyze(text) if " " not in t]

    question_terms = list(dict.fromkeys(terms(question)))
    analysed = [terms(s) for s in sentences]
    return Wording(antonym_unmet(question, sentences),
                   order_kept(question_terms, analysed),
                   phrases_kept(question_terms, analysed),
                   numbers_unmet(question, sentences),
                   names_unmet(question, analysed, terms))
