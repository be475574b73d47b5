"""Step 1: the question as the index sees it."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from retrieval.index import TfidfIndex


@dataclass(frozen=True, eq=False)
class Query:
    """The question's distinct analysed terms: those the corpus knows (``term_ids``, with the
    weight each carries in the question, ``term_weights``: 1.0 for the question's own terms)
    and how many it does not know (``unknown``); ``words`` is the number of words before stop
    words were removed."""

    term_ids: np.ndarray
    term_weights: np.ndarray
    unknown: int
    words: int
    unknown_names: int = 0   # unknown terms written with a capital inside the question

    @property
    def vague(self) -> bool:
        """True when no word of the question is left to search for (only stop words), or
        when it is a single word typed alone ("help", "does")."""
        terms = self.term_ids.size + self.unknown
        return terms == 0 or (terms == 1 and self.words <= 2)

    @property
    def off_vocabulary(self) -> bool:
        """True when the question has words to search for, but no passage holds any."""
        return self.term_ids.size == 0 and not self.vague


def read_query(index: TfidfIndex, text: str, analysed: Sequence[str] | None = None) -> Query:
    """The distinct terms of ``text`` (analysed as the passages were; ``analysed``: its
    terms, when the caller has them), split into known and unknown to ``index``. An unknown
    word written with a capital letter inside the question is counted apart: a name the
    corpus lacks ("France") says more than a plain word it lacks (a paraphrase: "mention")."""
    analyzer = index.analyzer
    terms = list(dict.fromkeys(analyzer(text) if analysed is None else analysed))
    ids = index.lookup(terms)
    known = ids[ids >= 0]
    unknown = {t for t, i in zip(terms, ids) if i < 0}
    names = 0
    if unknown:
        capitalised = [w for w in analyzer.words(text, keep_case=True)[1:] if w[:1].isupper()]
        names = len(unknown & set(analyzer(" ".join(capitalised))))
    return Query(term_ids=known, term_weights=np.ones(known.size, dtype=np.float32),
                 unknown=len(unknown), words=len(analyzer.words(text)), unknown_names=names)
