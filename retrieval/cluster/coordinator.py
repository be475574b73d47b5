"""The coordinator: the first stage of a question fanned out to the shards of a Ray cluster.

``Cluster`` starts ``replicas`` Ray actors for each of up to ``shards`` runs of the commit's
segments (``retrieval.cluster.shard``), each opening its segments of the saved index in the
shared index directory, weighted with the whole commit's statistics. It is a ``Searcher``:
the answerer (in this process) reads the question once, hands its weighted terms to one
replica of every shard (taking the replicas in turn, so they share the load), waits up to
``timeout_seconds`` for all of them, merges their best passages and goes on with the rest of
the answer on the merged list. The order of the first stage is
total, so the merged passages are exactly those of the whole index.

Faults: an actor that dies is restarted by Ray (``max_restarts``) from its files, and a
question sent to it meanwhile is retried on the restarted actor (``max_task_retries``); a
replica dead for good is replaced by another replica of its shard. A shard that has not
answered when the timeout is up makes the question fail with ``IndexUnavailableError``: a
question is never answered from part of the index.

The actors live as long as this object (Ray ends an actor when the last handle to it goes):
a ``reload`` starts a new cluster and the old one ends when its last question is answered.
"""
from __future__ import annotations

import itertools
import logging
import re
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.answer.passages import (BestArticles, BestPassages, merge_best_articles,
                                       merge_best_passages)
from retrieval.cluster.shard import Shard, ShardInfo, commit_identity, shard_segments
from retrieval.errors import ClusterError, IndexUnavailableError
from retrieval.index import TfidfIndex
from retrieval.settings import ClusterSettings

log = logging.getLogger(__name__)
START_SECONDS = 60.0     # the least time given to the shards to open their segments
# Where Ray says, on stderr, at every start of a local Ray, that token authentication is on
# (or off): our log has it at INFO level (`--verbose`).
RAY_AUTH_LOGGER = "ray._private.authentication.authentication_token_setup"


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ClusterError("cluster.enabled needs Ray: pip install 'qabot[cluster]'") from None
    return ray


def connect(settings: ClusterSettings) -> None:
    """Join the Ray cluster of ``settings.address`` (or start a local Ray when it is empty),
    unless this process is connected already. The head's port is tried first, for at most
    ``settings.timeout_seconds``: Ray itself waits without end for an address where nothing
    answers."""
    ray = _ray()
    if ray.is_initialized():
        return
    address = settings.address
    where = address or "a local Ray"
    if address.startswith("ray://"):
        try:
            import grpc  # noqa: F401 - what Ray Client needs (the ray[client] extra)
        except ImportError:
            raise ClusterError(f"cluster.address {address} needs Ray Client: pip install "
                               "'qabot[cluster]' (it installs ray[client])") from None
    head = _head_address(address)
    if head is not None:
        _probe(where, head, settings.timeout_seconds)
    notes = _HeldBack()
    ray_auth = logging.getLogger(RAY_AUTH_LOGGER)
    ray_auth.addFilter(notes)
    try:
        ray.init(address=settings.address or None, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot connect to the Ray cluster ({where}): {reason}") from None
    finally:
        ray_auth.removeFilter(notes)
    for note in notes.held:
        log.info("Ray: %s", note)


class _HeldBack(logging.Filter):
    """Keeps the records of a logger from its handlers, for this module's log instead."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.held.append(record.getMessage())
        return False


def _head_address(address: str) -> tuple[str, int] | None:
    """The (host, port) that ``address`` names ("auto": the cluster ``ray start`` made on
    this machine, when Ray can tell), or None (a local Ray, or an "auto" Ray cannot
    resolve: ``ray.init`` says why at once)."""
    if address == "auto":
        try:
            from ray._private.services import canonicalize_bootstrap_address
            address = canonicalize_bootstrap_address("auto") or ""
        except Exception:  # noqa: BLE001 - Ray's own lookup; ray.init reports its failure
            return None
    host, _, port = address.removeprefix("ray://").rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None


def _probe(where: str, head: tuple[str, int], seconds: float) -> None:
    """Raise ``ClusterError`` unless something accepts a connection at ``head`` within
    ``seconds``."""
    host, port = head
    try:
        socket.create_connection((host, port), timeout=seconds).close()
    except OSError as exc:
        why = f"no answer within {seconds:g} s" if isinstance(exc, TimeoutError) else (
            exc.strerror or str(exc) or type(exc).__name__)
        raise ClusterError(f"cannot connect to the Ray cluster ({where}): nothing accepts "
                           f"connections at {host}:{port} ({why}); is `ray start --head` "
                           "running there?") from None


class Cluster:
    """The shards of ``index`` (the commit opened from ``index_dir``) on Ray actors, as a
    ``Searcher``. With fewer segments than ``settings.shards``, each segment is a shard
    (``shortfall`` says so)."""

    def __init__(self, index: TfidfIndex, index_dir: Path, settings: ClusterSettings) -> None:
        ray = _ray()
        connect(settings)
        self.settings = settings
        commit = index.commit_
        listed = [(str(s["name"]), int(s["passages"])) for s in commit.manifest["segments"]]
        self.segments = shard_segments(listed, settings.shards)
        # Why there are fewer shards than asked for (a corpus of fewer articles than shards):
        # for the service to say once.
        self.shortfall = None if len(self.segments) == settings.shards else (
            f"the index at {index_dir} has {len(listed)} segment(s) for "
            f"{commit.manifest.get('articles')} article(s): {len(self.segments)} shard(s) of "
            f"the cluster, not {settings.shards}")
        firsts = [commit.bases[names[0]][0] for names in self.segments]
        self.ranges = list(zip(firsts, firsts[1:] + [len(index.articles_)]))
        actor = ray.remote(Shard).options(
            max_restarts=-1, max_task_retries=-1,      # restarted from its files, forever
            num_cpus=0,                                # a shard waits far more than it works
            scheduling_strategy="SPREAD")              # replicas on different nodes
        identity = commit_identity(index)
        self.actors: tuple[tuple[Any, ...], ...] = tuple(
            tuple(actor.remote(str(index_dir), commit.generation or None, identity, names)
                  for _ in range(settings.replicas))
            for names in self.segments)
        self._turn = itertools.count()
        self._ray = ray

    def wait_ready(self) -> list[list[ShardInfo]]:
        """Wait until every actor has opened its shard (raises ``ClusterError`` when one
        cannot, or they are not all up within ``START_SECONDS`` or the question timeout,
        whichever is longer)."""
        ray = self._ray
        wait = max(self.settings.timeout_seconds, START_SECONDS)
        refs = [a.info.remote() for replicas in self.actors for a in replicas]
        try:
            infos = ray.get(refs, timeout=wait)
        except ray.exceptions.GetTimeoutError:
            raise ClusterError(f"the {len(self.actors)} shards of the index did not all start "
                               f"within {wait:g} s (is the cluster short of memory?)") from None
        except ray.exceptions.RayError as exc:
            raise ClusterError(f"a shard of the index could not start: {_cause(exc)}") from None
        per_shard = len(self.actors[0]) if self.actors else 0
        return [infos[i:i + per_shard] for i in range(0, len(infos), per_shard)]

    # ------------------------------------------------------------------------- Searcher
    def best_passages(self, term_ids: np.ndarray, weights: np.ndarray, n: int,
                      allowed: np.ndarray | None = None,
                      preference: np.ndarray | None = None) -> BestPassages:
        def call(actor: Any, lo: int, hi: int) -> Any:
            return actor.best_passages.remote(
                term_ids, weights, n, None if allowed is None else allowed[lo:hi],
                None if preference is None else preference[lo:hi])
        return merge_best_passages(self._fan_out(call), n)

    def best_articles(self, term_ids: np.ndarray, weights: np.ndarray, k: int,
                      scale: float) -> BestArticles:
        return merge_best_articles(self._fan_out(
            lambda actor, lo, hi: actor.best_articles.remote(term_ids, weights, k, scale)), k)

    def _fan_out(self, call: Callable[[Any, int, int], Any]) -> list[Any]:
        """``call(actor, first article, last article)`` on one replica of every shard; their
        results in shard order. A replica dead for good is replaced by the next one; a shard
        without an answer when the timeout is up raises ``IndexUnavailableError``."""
        ray = self._ray
        deadline = time.monotonic() + self.settings.timeout_seconds
        turn = next(self._turn)
        pending: dict[Any, tuple[int, int]] = {}    # ref: (shard, replicas tried)

        def send(shard: int, tried: int) -> None:
            replicas = self.actors[shard]
            lo, hi = self.ranges[shard]
            pending[call(replicas[(turn + tried) % len(replicas)], lo, hi)] = (shard, tried)

        for shard in range(len(self.actors)):
            send(shard, 0)
        try:    # the usual case, in one call: every shard answers
            return ray.get(list(pending), timeout=self.settings.timeout_seconds)
        except ray.exceptions.RayActorError:
            pass                                # a replica died: go on shard by shard
        except ray.exceptions.GetTimeoutError:
            pending = {ref: sent for ref, sent in pending.items()
                       if not ray.wait([ref], timeout=0)[0]}
            raise IndexUnavailableError(_unavailable(sorted(s + 1 for s, _ in pending.values()),
                                                     len(self.actors),
                                                     self.settings.timeout_seconds)) from None
        results: list[Any] = [None] * len(self.actors)
        while pending:
            remaining = deadline - time.monotonic()
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=max(remaining, 0.0))
            if not ready:
                missing = sorted(shard + 1 for shard, _ in pending.values())
                raise IndexUnavailableError(_unavailable(missing, len(self.actors),
                                                         self.settings.timeout_seconds))
            shard, tried = pending.pop(ready[0])
            try:
                results[shard] = ray.get(ready[0])
            except ray.exceptions.RayActorError as exc:
                if tried + 1 < len(self.actors[shard]):     # another replica stands in
                    log.warning("shard %d, replica %d: %s", shard + 1, tried + 1, _cause(exc))
                    send(shard, tried + 1)
                    continue
                log.info("shard %d, replica %d: %s", shard + 1, tried + 1, _cause(exc))
                raise IndexUnavailableError(_unavailable([shard + 1], len(self.actors),
                                                         None)) from None
        return results


def _unavailable(shards: Sequence[int], total: int, timeout: float | None) -> str:
    which = ", ".join(str(s) for s in shards)
    plural = len(shards) > 1
    why = (f"did not answer within {timeout:g} s (restarting?)" if timeout is not None
           else "are down" if plural else "is down")
    return (f"The index is partly unavailable: shard{'s' if plural else ''} {which} of "
            f"{total} {why}, so the "
            "question was not answered from the rest of it. Ask again in a moment.")


def _cause(exc: BaseException) -> str:
    """The last line of a Ray error (the remote exception's own message, after its
    traceback), without its class's name."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return re.sub(r"^[\w.]+(Error|Exception): ", "", lines[-1])
