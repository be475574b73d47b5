"""Step 1: the question as the index sees it."""
from __future__ import annotations

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


def read_query(index: TfidfIndex, text: str) -> Query:
    """The distinct terms of ``text`` (analysed as the passages were), split into known and
    unknown to ``index``."""
    terms = list(dict.fromkeys(index.analyzer(text)))
    ids = index.lookup(terms)
    known = ids[ids >= 0]
    return Query(term_ids=known, term_weights=np.ones(known.size, dtype=np.float32),
                 unknown=int((ids < 0).sum()), words=len(index.analyzer.words(text)))
