"""The worker processes of a build: ``run`` maps a function over tasks in a process pool,
in order, with a bounded number of tasks in flight.

A worker never outlives the process that started it: on Linux the kernel kills it when its
parent ends (``PR_SET_PDEATHSIG``), and everywhere a thread of the worker ends it when its
parent has changed (it was re-parented: its parent ended). Nor does a worker hold what is its
parent's alone: the descriptors it is given (the index's lock) are closed in it as it starts,
so a killed build leaves no process behind holding the index."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

_PR_SET_PDEATHSIG = 1
_WATCH_SECONDS = 1.0      # how often a worker looks whether its parent is still there

Runner = Callable[[Iterable[tuple[Any, ...]], Any, int], Iterator[Any]]


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def run(tasks: Iterable[tuple[Any, ...]], function: Any, jobs: int, *,
        parents_own: Sequence[int] = ()) -> Iterator[Any]:
    """``function(*task)`` for each task, in order, in ``jobs`` processes (in this one when
    ``jobs`` is 1 or there is a single task), with at most ``jobs + 1`` tasks in flight
    (memory stays bounded by the batches). ``parents_own``: descriptors the workers close."""
    tasks = iter(tasks)
    first = next(tasks, None)
    second = next(tasks, None) if first is not None else None
    if second is None or jobs <= 1:
        for task in (t for t in (first, second) if t is not None):
            yield function(*task)
        for task in tasks:
            yield function(*task)
        return
    with ProcessPoolExecutor(max_workers=jobs, initializer=_start_worker,
                             initargs=(os.getpid(), tuple(parents_own))) as pool:
        pending: list[Future[Any]] = [pool.submit(function, *first), pool.submit(function, *second)]
        for task in tasks:
            pending.append(pool.submit(function, *task))
            if len(pending) > jobs:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def _start_worker(parent: int, parents_own: tuple[int, ...]) -> None:
    """In a new worker: close its parent's own descriptors and tie its life to the parent's."""
    for fd in parents_own:
        try:
            os.close(fd)
        except OSError:
            pass
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):   # pragma: no cover - no usable libc
            pass
    if os.getppid() != parent:     # the parent ended before the kernel was told
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True,
                     name="qabot-parent-watch").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)
