"""Building the index on the cluster: the corpus streamed in parts, each part analysed and
written as a segment by a Ray task into the shared index directory, the global statistics
combined over the segments in one commit, and the segments kept apart (not merged): the
shards of ``retrieval.cluster.coordinator`` serve whole segments."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from retrieval.cluster.coordinator import _ray, connect
from retrieval.corpus import CorpusStream
from retrieval.index import BATCH_CHARS, CommitInfo, TfidfIndex, build
from retrieval.settings import ClusterSettings

SEGMENTS_PER_SHARD = 2       # more, smaller segments than shards: the shards stay balanced


def ray_run(tasks: Iterable[tuple[Any, ...]], function: Any, jobs: int) -> Iterator[Any]:
    """``function(*task)`` for each task as a Ray task, results in order, with at most
    ``jobs + 1`` tasks in flight (the driver's memory stays bounded by the batches)."""
    ray = _ray()
    remote = ray.remote(function).options(max_retries=2)
    pending: list[Any] = []
    for task in tasks:
        pending.append(remote.remote(*task))
        if len(pending) > jobs:
            yield ray.get(pending.pop(0))
    for ref in pending:
        yield ray.get(ref)


def build_on_cluster(params: TfidfIndex, root: Path, stream: CorpusStream,
                     settings: ClusterSettings, *, progress: bool = False) -> CommitInfo:
    """Build the index of ``stream`` under ``root`` (a directory every node reads) in Ray
    tasks, as about ``SEGMENTS_PER_SHARD`` segments per shard, and never fewer segments than
    shards (or than articles, for a corpus of fewer articles than shards)."""
    connect(settings)
    ray = _ray()
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    batch_chars = max(1, min(BATCH_CHARS,
                             stream.total_bytes // (SEGMENTS_PER_SHARD * settings.shards)))
    built = build(params, root, stream, jobs=cpus, progress=progress, batch_chars=batch_chars,
                  merge=False, run=ray_run, min_segments=settings.shards)
    if len(built.segments) >= min(settings.shards, built.articles):
        return built
    # Articles of very unequal sizes: the parts, cut by size, are fewer than the shards
    # (and the index would be rebuilt at every start). Once more, cut by number too.
    again = CorpusStream(stream.root, [asdict(f) for f in stream.files])
    return build(params, root, again, jobs=cpus, progress=progress, batch_chars=batch_chars,
                 merge=False, run=ray_run, min_segments=settings.shards,
                 batch_articles=max(1, built.articles // settings.shards))
