"""A real pseudo-terminal for tests: runs a command with a terminal of a given size as its
standard input, output and error, types into it and reads what it shows (ANSI escapes
stripped). Used to drive ``qabot repl`` as a person at an 80-column terminal would."""
from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[=>()][0-9A-Za-z]?")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def plain(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (but newlines)."""
    return _CONTROL.sub("", _ANSI.sub("", text))


class Terminal:
    """``command`` running in a ``columns`` x ``rows`` pseudo-terminal."""

    def __init__(self, command: Sequence[str], *, columns: int = 80, rows: int = 24,
                 cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        environment = dict(env if env is not None else os.environ)
        # No cursor-position requests: nobody answers them here.
        environment.update(TERM="xterm", COLUMNS=str(columns), LINES=str(rows),
                           PROMPT_TOOLKIT_NO_CPR="1")
        self.process = subprocess.Popen(list(command), stdin=slave, stdout=slave, stderr=slave,
                                        cwd=cwd, env=environment, start_new_session=True,
                                        close_fds=True)
        os.close(slave)
        self.seen = ""          # everything shown so far, escapes included
        self.consumed = 0       # how much of plain(seen) earlier matches have used

    def type(self, text: str) -> None:
        os.write(self.master, text.encode("utf-8"))

    def read_until(self, pattern: str, timeout: float = 60.0) -> str:
        """Read until ``pattern`` (a regular expression) appears in the plain text shown
        after the previous match; returns that text, up to the end of this match."""
        deadline = time.monotonic() + timeout
        while True:
            text = plain(self.seen)
            found = re.compile(pattern).search(text, self.consumed)
            if found:
                shown, self.consumed = text[self.consumed:found.end()], found.end()
                return shown
            left = deadline - time.monotonic()
            if left <= 0 or not self._read(left):
                raise AssertionError(f"{pattern!r} not shown; the terminal shows:\n"
                                     + text[self.consumed:])

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:      # the process has ended
            return False
        self.seen += data.decode("utf-8", errors="replace")
        return bool(data)

    def wait(self, timeout: float = 30.0) -> int:
        while self._read(0.05):
            pass
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)
