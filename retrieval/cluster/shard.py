"""A shard: the first stage over a run of the index's segments, served by a Ray actor.

The actor is made from its files: it opens its segments of the commit the coordinator names
(not whichever is current: a commit landing meanwhile is not mixed in) in the shared index
directory (the directory every node of the cluster reads, memory-mapped), weighted with the
whole commit's global statistics, and checks that the commit is the one the coordinator was
started with. Ray runs the constructor again when it restarts a dead actor, so a
restarted shard is the same shard. Nothing here imports Ray: the coordinator makes the actor."""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.passages import BestArticles, BestPassages, PassageSearcher
from retrieval.errors import IndexFormatError
from retrieval.index import TfidfIndex
from retrieval.index.runs import balanced_runs

# What identifies a commit: a rebuilt, grown or shrunk index differs in one of these.
IDENTITY_KEYS = ("fingerprint", "segments", "stats", "format_version", "analyzer",
                 "sublinear_tf", "rules", "weighting", "bm25")


def commit_identity(index: TfidfIndex) -> dict[str, Any]:
    """What a shard checks that the commit it opened is the coordinator's."""
    manifest = index.commit_.manifest
    return {key: manifest.get(key) for key in IDENTITY_KEYS}


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
    """The first stage over ``segments`` (consecutive segments of the commit ``commit``, of
    ``identity``) of the index saved in ``index_dir``."""

    def __init__(self, index_dir: str, commit: str | None, identity: dict[str, Any],
                 segments: Sequence[str]) -> None:
        index = TfidfIndex.load(Path(index_dir), segments=list(segments), commit=commit)
        found = commit_identity(index)
        if found != identity:
            changed = sorted(k for k in IDENTITY_KEYS if found.get(k) != identity.get(k))
            raise IndexFormatError(f"the index at {index_dir} is not the one the cluster was "
                                   f"started with ({', '.join(changed)} changed); reload")
        first_article, first_passage, _ = index.commit_.bases[segments[0]]
        self._searcher = PassageSearcher(index, first_article, first_passage)
        self._served = 0

    def info(self) -> ShardInfo:
        s = self._searcher
        return ShardInfo(s.first_article, s.first_article + s.n_articles, s.first_passage,
                         s.n_passages, os.getpid(), self._served)

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


def shard_segments(segments: Sequence[tuple[str, int]], shards: int) -> list[list[str]]:
    """The commit's ``segments`` (name, passages), in order, as ``shards`` runs of
    consecutive segments holding about as many passages each (one segment each when there
    are fewer segments)."""
    names = [name for name, _ in segments]
    return [names[run.start:run.stop]
            for run in balanced_runs([passages for _, passages in segments], shards)]
