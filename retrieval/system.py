"""What the operating system tells and guarantees, for the files we share between processes:
whether a process still runs, and a directory locked for a moment."""
from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, from ``/proc``; None when not
    known), or -1 when it has ended (gone, or a zombie not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return -1 if Path("/proc/self/stat").exists() else None
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return -1 if fields[0] in ("Z", "X") else int(fields[19])


def process_running(pid: int, start: int | None = None) -> bool:
    """Whether process ``pid`` (started at ``start``, when known: a process id is reused)
    still runs."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:     # another user's: it runs
        pass
    now = process_start(pid)
    return now != -1 and (start is None or now is None or now == start)


@contextmanager
def directory_locked(path: Path) -> Iterator[None]:
    """The directory ``path`` locked (an exclusive ``flock`` on the directory itself) while
    the block runs: what processes decide about its entries, they decide one at a time."""
    directory = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(directory, fcntl.LOCK_EX)
        yield
    finally:
        os.close(directory)     # and its lock
