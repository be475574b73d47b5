"""Runs of consecutive segments holding about as many passages each: the shards of the cluster
(``retrieval.cluster.shard``), and the segments a merge of a commit leaves (``commit``)."""
from __future__ import annotations

from collections.abc import Sequence


def balanced_runs(sizes: Sequence[int], runs: int) -> list[range]:
    """The positions of ``sizes`` (each segment's passages, in order) cut into
    ``min(runs, len(sizes))`` runs of consecutive positions, each about ``1/runs`` of the
    total: never fewer runs, however unequal the sizes."""
    wanted = min(runs, len(sizes))
    total = sum(sizes) or 1
    starts: list[int] = []
    done = 0
    for i, size in enumerate(sizes):
        # A new run when this segment's middle lies past the current run's share, or when
        # every segment left must start a run for there to be ``wanted`` of them.
        if not starts or (len(starts) < wanted and (
                len(sizes) - i <= wanted - len(starts)
                or (done + size / 2) * wanted >= len(starts) * total)):
            starts.append(i)
        done += size
    return [range(a, b) for a, b in zip(starts, starts[1:] + [len(sizes)])]
