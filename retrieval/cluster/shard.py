"""A shard: the first stage over one range of the index's articles, run by a Ray actor.

The actor is made from its files: it opens the saved index in the shared index directory
(the directory every node of the cluster reads), checks that it is the index the coordinator
was started with, and keeps only its range's postings. Ray runs the constructor again when it
restarts a dead actor, so a restarted shard is the same shard. It imports nothing of Ray: the
coordinator makes it an actor."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.passages import BestArticles, BestPassages, PassageSearcher
from retrieval.errors import IndexFormatError
from retrieval.index import TfidfIndex

# What identifies an index: the manifest keys a rebuilt or another index would differ in.
IDENTITY_KEYS = ("fingerprint", "articles", "passages", "sentences", "terms", "format_version",
                 "analyzer", "sublinear_tf", "rules", "weighting", "bm25")


def index_identity(index: TfidfIndex) -> dict[str, Any]:
    """What a shard checks that the index it opens is the coordinator's."""
    manifest = index.manifest()
    return {key: manifest[key] for key in IDENTITY_KEYS}


@dataclass(frozen=True)
class ShardInfo:
    """Which articles and passages a shard holds, the process holding them, and how many
    requests it has served since it started."""

    first_article: int
    last_article: int
    first_passage: int
    passages: int
    pid: int
    served: int


class Shard:
    """The first stage over articles ``first_article`` to ``last_article`` (excluded) of the
    index saved in ``index_dir``, which must be the index of ``identity``."""

    def __init__(self, index_dir: str, identity: dict[str, Any], first_article: int,
                 last_article: int) -> None:
        index = TfidfIndex.load(Path(index_dir))
        found = index_identity(index)
        if found != identity:
            changed = sorted(k for k in IDENTITY_KEYS if found.get(k) != identity.get(k))
            raise IndexFormatError(f"the index at {index_dir} is not the one the cluster was "
                                   f"started with ({', '.join(changed)} changed); reload")
        self._searcher = PassageSearcher(index, first_article, last_article)
        self._served = 0

    def info(self) -> ShardInfo:
        s = self._searcher
        return ShardInfo(s.first_article, s.last_article, s.first_passage, s.n_passages,
                         os.getpid(), self._served)

    def best_passages(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
                      allowed: np.ndarray | None,
                      preference: np.ndarray | None) -> BestPassages:
        """``allowed`` and ``preference`` hold a value per article of the shard."""
        self._served += 1
        return self._searcher.best_passages(term_ids, weights, n, allowed, preference)

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> BestArticles:
        self._served += 1
        return self._searcher.best_articles(term_ids, weights, k, scale)


def article_ranges(passage_article: np.ndarray, n_articles: int,
                   shards: int) -> list[tuple[int, int]]:
    """``shards`` consecutive ranges of articles (first, last excluded) holding about as many
    passages each; with fewer articles than shards, some ranges are empty."""
    n_passages = passage_article.size
    cuts = [0]
    for i in range(1, shards):
        target = i * n_passages // shards
        article = int(passage_article[target]) if target < n_passages else n_articles
        cuts.append(max(cuts[-1], article))
    cuts.append(n_articles)
    return list(zip(cuts[:-1], cuts[1:]))
