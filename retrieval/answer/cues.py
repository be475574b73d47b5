"""Step 2: cues in the wording of a question.

A year named in the question prefers articles of that year; "latest"/"earliest" prefer newer
or older articles; a question asking when wants a sentence with a date, one asking how many a
number, one asking who a person or a role, one asking where a place; "Who is X?" (or "What
is X?", X a name) a sentence that describes X: a role before the name ("Foreign Minister
Sergei Lavrov"), an apposition or clause after it ("John Kerry, Obama's nominee", "the Dima
Yakovlev Law, which"), or "X is a"."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

AnswerType = Literal["date", "number", "person", "place", "description"]

_YEAR = re.compile(r"\b(1[89]\d{2}|20\d{2})\b")
_LATEST = re.compile(r"\b(latest|most recent(ly)?|newest|recent(ly)?|current(ly)?|nowadays|"
                     r"last (?:time|report|news))\b", re.IGNORECASE)
_EARLIEST = re.compile(r"\b(earliest|oldest|initially|originally|at first|first (?:time|report|"
                       r"news|mention))\b", re.IGNORECASE)
_ASKS = (
    ("date", re.compile(r"\b(when|what (?:year|century|decade|date|month|day)|which (?:year|"
                        r"century|decade))\b", re.IGNORECASE)),
    ("number", re.compile(r"\bhow (?:many|much|long|old|far|large|big|tall|high)\b|"
                          r"\bwhat (?:percentage|percent|number|amount)\b", re.IGNORECASE)),
    ("person", re.compile(r"^(?:who|whom|whose)\b|\b(?:who|whom)\s+(?:is|was|were|are|did|does|"
                          r"do|has|had|will|would|signed|said|wrote)\b", re.IGNORECASE)),
    ("place", re.compile(r"\bwhere\b|\b(?:what|which|in which) (?:city|country|state|town|"
                         r"region|place)\b", re.IGNORECASE)),
)
# "Who is X?" / "What was X?" with X a name: capitalised words (a "the" before them aside).
_DEFINES = re.compile(r"^\s*(?:who|what)\s+(?:is|was|are|were)\s+(?:the\s+)?"
                      r"((?:[A-Z][\w.’'-]*\s*){1,5}?)\s*\??\s*$", re.IGNORECASE)
_ROLES = (r"president|minister|secretary|chairman|chairwoman|leader|spokes(?:man|woman|person)|"
          r"official|ambassador|director|chief|king|queen|governor|senator|nominee|envoy|"
          r"advis[eo]r|head|premier|chancellor|mayor|general|lawyer|founder|professor|author|"
          r"editor|commissioner|deputy|former|then")
_MONTHS = (r"January|February|March|April|May|June|July|August|September|October|November|"
           r"December")
_HAS = {
    "date": re.compile(r"\b(?:1\d{3}|20\d{2})s?\b|\b(?:" + _MONTHS + r")\b|\bcentur(?:y|ies)\b"),
    # The number words as a tree of their first letters ("one|two|three|...|several"): the
    # same matches, tried letter by letter instead of word by word (twice as fast).
    "number": re.compile(r"\d|\b(?:one|t(?:wo|hree|en|welve|wenty|hirty|housand)|"
                         r"f(?:our|ive|orty|ifty)|s(?:ix|even|everal)|e(?:ight|leven)|nine|"
                         r"hundred|(?:m|b)illion|dozens?)\b", re.IGNORECASE),
    # A name (a capitalised word that does not start the sentence) or a role.
    "person": re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+|\b(?:president|minister|secretary|"
                         r"chairman|leader|spokes(?:man|woman|person)|official|ambassador|"
                         r"director|chief|king|queen|governor|senator)s?\b"),
    # A capitalised word after a preposition of place.
    "place": re.compile(r"\b(?:in|at|from|near|to|across|outside|inside) (?:the )?[A-Z][a-z]+"),
}


# A reason or a reaction: often told by the sentences after the event's.
_REACTION = re.compile(r"\b(?:why|react(?:s|ed|ing|ion)?|respon(?:d|ds|ded|se)|retaliat\w*|"
                       r"repl(?:y|ied)|hit back|in return|what happened (?:after|next|then))\b",
                       re.IGNORECASE)


def asks_reaction(question: str) -> bool:
    """Whether ``question`` asks for a reason or a reaction ("why", "how did X react")."""
    return _REACTION.search(question) is not None


# not|cannot|never|no|none|nothing|neither|nor|without, or n't (the n-words as a tree)
_NEGATION = re.compile(r"\b(?:n(?:ot|ever|o(?:ne)?|othing|either|or)|cannot|without)\b|"
                       r"n['’]t\b", re.IGNORECASE)


@dataclass(frozen=True)
class QuestionCues:
    """What the wording of a question asks for; ``negated`` when it holds a negation
    ("Which country did not sign?")."""

    years: frozenset[int] = frozenset()
    latest: bool = False
    earliest: bool = False
    answer_type: AnswerType | None = None
    negated: bool = False
    defines: str | None = None   # for "Who is X?": the name X, whose description is wanted


def negated(sentences: Iterable[str]) -> np.ndarray:
    """For each sentence, whether it holds a negation."""
    return _matching(_NEGATION, sentences)


def _matching(pattern: re.Pattern[str], sentences: Iterable[str]) -> np.ndarray:
    """For each sentence, whether ``pattern`` occurs in it; a text that recurs (the same
    sentence reported by several articles) is searched once."""
    found: dict[str, bool] = {}
    flags = []
    for s in sentences:
        flag = found.get(s)
        if flag is None:
            flag = found[s] = pattern.search(s) is not None
        flags.append(flag)
    return np.array(flags, dtype=bool)


def read_cues(question: str, types: Iterable[AnswerType] = ("date", "number", "person",
                                                             "place", "description")
              ) -> QuestionCues:
    """The cues of ``question``; only the answer ``types`` given are looked for (a
    description first, then the first that matches)."""
    wanted = set(types)
    match = _DEFINES.match(question) if "description" in wanted else None
    defines = match.group(1).strip(" .’'-") if match else None
    if defines is not None and not all(w[:1].isupper() for w in defines.split()):
        defines = None      # "Who is the president?": not a name
    answer_type = "description" if defines else next(
        (name for name, pattern in _ASKS if name in wanted and pattern.search(question)), None)
    return QuestionCues(years=frozenset(int(y) for y in _YEAR.findall(question)),
                        latest=bool(_LATEST.search(question)),
                        earliest=bool(_EARLIEST.search(question)),
                        answer_type=answer_type,  # type: ignore[arg-type]
                        negated=bool(_NEGATION.search(question)), defines=defines)


def narrowed(cues: QuestionCues, question: str, types: Iterable[AnswerType]) -> QuestionCues:
    """``read_cues(question, types)``, given ``cues = read_cues(question)`` (every type): the
    question is read again only when the answer type may differ (a description, or a type
    outside ``types``)."""
    wanted = set(types)
    if "description" not in wanted and (cues.answer_type is None or (
            cues.answer_type != "description" and cues.answer_type in wanted)):
        # The first type of _ASKS that matches is the same among fewer types, when kept.
        return replace(cues, defines=None)
    return read_cues(question, wanted)


def type_matches(cues: QuestionCues, sentences: Iterable[str]) -> np.ndarray | None:
    """For each sentence, whether it holds what the question's answer type asks for; None
    when the question asks for no particular type."""
    if cues.answer_type is None:
        return None
    pattern = _describing(cues.defines or "") if cues.answer_type == "description" else \
        _HAS[cues.answer_type]
    return _matching(pattern, sentences)


def _describing(name: str) -> re.Pattern[str]:
    """A sentence describing ``name`` (by its last word, a surname: first names are spelt
    many ways): a role just before it, an apposition or clause just after it, or "is a"."""
    last = re.escape(name.split()[-1])
    return re.compile(
        rf"\b(?:{_ROLES})\b(?:\W+[\w’'-]+){{0,3}}?\W+{last}\b"
        rf"|\b{last}\b[’'\"”]*,\s*(?:the|a|an|who|which|whose|former|then|[A-Z][\w-]*[’']s)\b"
        rf"|\b{last}\b\s+(?:is|was)\s+(?:a|an|the)\b", re.IGNORECASE)


def type_matches_beyond(cues: QuestionCues, question: str,
                        sentences: Iterable[str]) -> np.ndarray | None:
    """As ``type_matches``, counting only what the question does not say itself (a year, a
    number, a name or a place it does not hold): the sentence has an answer to offer."""
    if cues.answer_type is None or cues.answer_type == "description":   # always beyond
        return type_matches(cues, sentences)
    pattern, asked = _HAS[cues.answer_type], question.casefold()
    return np.array([any(m.group(0).casefold() not in asked for m in pattern.finditer(s))
                     for s in sentences], dtype=bool)


def date_factor(cues: QuestionCues, years: np.ndarray, ordinals: np.ndarray,
                year_boost: float, recency_boost: float) -> np.ndarray:
    """A factor for each candidate from its article's ``years`` and date ``ordinals`` (NaN
    when unknown): ``1 + year_boost`` for a year the question names, up to
    ``1 + recency_boost`` for the newest (or oldest) article when it asks for the latest (or
    earliest)."""
    factor = np.ones(years.size, dtype=np.float64)
    if cues.years:
        factor *= np.where(np.isin(years, list(cues.years)), 1.0 + year_boost, 1.0)
    if cues.latest != cues.earliest:
        known = ~np.isnan(ordinals)
        if known.sum() > 1:
            lo, hi = np.nanmin(ordinals), np.nanmax(ordinals)
            position = np.where(known, (ordinals - lo) / max(hi - lo, 1.0), 0.5)
            if cues.earliest:
                position = 1.0 - position
            factor *= 1.0 + recency_boost * position
    return factor
