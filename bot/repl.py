"""The interactive REPL: prompt_toolkit for input (history, editing, completion), rich for
output.

``Repl.handle`` turns one line into output and is what the tests drive; ``Repl.run`` is the
prompt loop around it. When standard input is not a terminal (``echo q | qabot repl``), the
questions are read line by line and answered plainly, without prompt_toolkit, as ``python``,
``sqlite3`` and ``psql`` do."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from rich.console import Console, RenderableType
from rich.markup import escape

from bot.filters import FilterError, corpus_years, plain_number, resolve_source
from bot.render import (followup_hint, render_alternatives, render_context, render_result,
                        render_sources, screen)
from retrieval.answerer import TOP_K_MAX, Filters, Result
from retrieval.conversation import Conversation
from retrieval.errors import QABotError
from retrieval.service import QAService
from retrieval.settings import Settings

if TYPE_CHECKING:  # prompt_toolkit is imported only when a person types at a terminal
    from prompt_toolkit.completion import CompleteEvent, Completer, Completion
    from prompt_toolkit.document import Document
    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

HELP = """\
Type a question and press Enter. Commands:
  :help         this help (also help or ?)
  :sources      the articles in the corpus
  :more         the other answers to the last question
  :context      the last answer in its paragraph, with the sentences around it
  :new          start a new conversation (questions are read as follow-ups of it)
  :k N          how many answers to rank (now {k})
  :source NAME  only articles from this outlet (now {source}; :source off: any)
  :year YYYY    only articles published that year (now {year}; :year off: any)
  :quit         leave (also :q, :exit, quit, exit, Ctrl-D)
Ctrl-C clears the line. Tab completes commands and source names; the right
arrow takes the grey suggestion from your history."""

# Commands understood without their colon, as ipython and psql do.
BARE_COMMANDS = {"help": "help", "?": "help", "quit": "quit", "exit": "quit"}
COMMANDS = ("help", "sources", "more", "context", "new", "k", "source", "year", "quit")
_NO_ARGUMENT = {"help", "sources", "more", "context", "new", "quit"}
_ALIASES = {"h": "help", "?": "help", "q": "quit", "exit": "quit"}
_OFF = {"off", "none", "all", "-"}
_MORE_AT_LEAST = 5          # :more ranks at least this many answers


@dataclass
class Repl:
    """One interactive session over a ``QAService``."""

    service: QAService
    settings: Settings
    console: Console = field(default_factory=screen)
    top_k: int = 0
    filters: Filters = field(default_factory=Filters)
    last: Result | None = None
    conversation: Conversation = field(default_factory=Conversation)
    asked_in: Conversation = field(default_factory=Conversation)   # the last question's
    asked_with: Filters = field(default_factory=Filters)           # ... and its filters

    def __post_init__(self) -> None:
        self.top_k = self.top_k or self.settings.answer.top_k

    # -------------------------------------------------------------------------- one line
    def handle(self, line: str) -> bool:
        """Act on one input line (or on each line of a paste); False when the session
        should end."""
        lines = [part.strip() for part in line.splitlines()]
        return all(self._handle_one(text) for text in lines if text)

    def _handle_one(self, text: str) -> bool:
        bare = BARE_COMMANDS.get(text.casefold())
        if bare is not None:
            return self._command(":" + bare)
        if text.startswith(":"):
            return self._command(text)
        if not self._ask(text, self.top_k):
            return True
        if self.last.answer is not None and self.last.alternatives:
            self.console.print(f"[dim]{len(self.last.alternatives)} more: :more · "
                               "context: :context[/]")
        elif self.last.answer is None and not self.last.unavailable:
            self.console.print("[dim]" + (":more lists every candidate with its confidence"
                                          if self.last.alternatives else
                                          "Try other words; :sources lists the articles") + "[/]")
        return True

    def _ask(self, question: str, top_k: int) -> bool:
        """Ask (inside the session's conversation) and show the answer, saying when it was
        read as a follow-up; False (the message shown) when it cannot be asked."""
        try:
            self.last = self.service.ask(question, top_k=top_k, filters=self.filters,
                                         conversation=self.conversation)
        except QABotError as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/]")
            return False
        self.asked_in, self.asked_with = self.conversation, self.filters
        if self.last.turn is not None:
            self.conversation = self.conversation.add(self.last.turn, self.settings.conversation)
        hint = followup_hint(self.last)
        if hint is not None:
            self.console.print(f"[dim]({escape(hint)}; :new starts afresh)[/]")
        self._show(render_result(self.last))
        return True

    def _show(self, renderable: RenderableType) -> None:
        # Not cropped: a link longer than the terminal runs on (the terminal wraps it) and
        # stays one piece; everything else is wrapped at word boundaries by rich.
        self.console.print(renderable, crop=False)

    # -------------------------------------------------------------------------- commands
    def _command(self, text: str) -> bool:
        name, _, arg = text[1:].partition(" ")
        name, arg = name.lower(), arg.strip()
        name = _ALIASES.get(name, name)
        if name in _NO_ARGUMENT and arg:
            self.console.print(f"[yellow]:{escape(name)} takes no argument[/]")
            return True
        if name == "quit":
            return False
        if name == "help":
            self.console.print(escape(HELP.format(k=self.top_k,
                                                  source=self.filters.source or "any",
                                                  year=self.filters.year or "any")))
        elif name == "sources":
            self.console.print(render_sources(self.service.articles))
        elif name == "more":
            self._more()
        elif name == "context":
            self._context()
        elif name == "new":
            self.conversation = Conversation()
            self.console.print("[dim]New conversation: the next question is read alone.[/]")
        elif name == "k":
            self._set_k(arg)
        elif name == "source":
            self._set_source(arg)
        elif name == "year":
            self._set_year(arg)
        else:
            self.console.print(f"[yellow]Unknown command :{escape(name)}; :help lists them.[/]")
        return True

    def _more(self) -> None:
        if self.last is None:
            self.console.print("[yellow]Ask a question first.[/]")
            return
        alternatives = self.last.alternatives
        if not alternatives and self.last.answer is not None and self.top_k < _MORE_AT_LEAST:
            # Fewer answers were ranked (:k 1): rank more of them for :more.
            try:
                alternatives = self.service.ask(self.last.question, top_k=_MORE_AT_LEAST,
                                                filters=self.asked_with,
                                                conversation=self.asked_in).alternatives
            except QABotError as exc:
                self.console.print(f"[yellow]{escape(str(exc))}[/]")
                return
        self._show(render_alternatives(alternatives))

    def _context(self) -> None:
        best = self.last.ranked[0] if self.last is not None and self.last.ranked else None
        if best is None:
            self.console.print("[yellow]Ask a question first.[/]")
        else:
            self._show(render_context(best))

    def _set_k(self, arg: str) -> None:
        if not arg:
            self.console.print(f"answers ranked: {self.top_k}")
            return
        value = plain_number(arg)
        if value is None or not 1 <= value <= TOP_K_MAX:
            self.console.print(f"[yellow]:k needs a whole number from 1 to {TOP_K_MAX}, not {escape(arg)!r}[/]")
            return
        self.top_k = value
        self.console.print(f"answers ranked: {value}")

    def _set_source(self, arg: str) -> None:
        if arg.casefold() in _OFF:
            self.filters = Filters(None, self.filters.year)
        elif arg:
            try:
                self.filters = Filters(resolve_source(arg, self.service.sources()),
                                       self.filters.year)
            except FilterError as exc:
                self.console.print(f"[yellow]{escape(str(exc))}[/]")
                return
        self.console.print(f"source: {escape(self.filters.source or 'any')}")

    def _set_year(self, arg: str) -> None:
        if arg.casefold() in _OFF:
            self.filters = Filters(self.filters.source, None)
        elif arg:
            years = corpus_years(self.service)
            year = plain_number(arg)
            if year is None or year not in years:
                listed = ", ".join(map(str, years)) or "none"
                self.console.print(f"[yellow]:year needs a year of the articles ({listed}), "
                                   f"not {escape(arg)!r}[/]")
                return
            self.filters = Filters(self.filters.source, year)
        self.console.print(f"year: {self.filters.year or 'any'}")

    # ------------------------------------------------------------------------ the loops
    def run(self, *, input: Input | None = None, output: Output | None = None,
            stdin: TextIO | None = None) -> int:
        """The session: a prompt at a terminal, or plain lines from a pipe or a file."""
        stdin = sys.stdin if stdin is None else stdin
        if input is None and not _is_terminal(stdin):
            return self.run_plain(stdin)
        return self.run_prompt(input=input, output=output)

    def run_plain(self, lines: Iterable[str]) -> int:
        """Answer each line of ``lines`` (a pipe, a file): no prompt, no banner."""
        for line in lines:
            if not self.handle(line):
                break
        return 0

    def run_prompt(self, *, input: Input | None = None, output: Output | None = None) -> int:
        """The prompt loop. Ctrl-C clears the line, Ctrl-D or :quit leaves."""
        from prompt_toolkit import PromptSession
        from prompt_toolkit.auto_suggest import AutoSuggestFromHistory

        session: PromptSession[str] = PromptSession(
            history=self._history(), input=input, output=output, completer=_completer(self),
            auto_suggest=AutoSuggestFromHistory(), complete_while_typing=False)
        report = self.service.last_load
        self.console.print(f"[bold]qabot[/] — {report.articles} articles, {report.sentences} "
                           "sentences. Ask a question, or help.")
        while True:
            try:
                line = session.prompt("? ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if not self.handle(line):
                break
        self.console.print("[dim]bye[/]")
        return 0

    def _history(self) -> History:
        """The history file of the settings (created if missing, but never a directory), or
        history in memory only, said once, when it cannot be written."""
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        class _Memory(_NonBlank, InMemoryHistory):
            pass

        class _File(_NonBlank, FileHistory):
            pass

        path = self.settings.repl.history_file
        if path is None:
            return _Memory()
        problem = _history_problem(path)
        if problem:
            self.console.print(f"[dim]history not saved: {escape(problem)}[/]")
            return _Memory()
        return _File(str(path))


class _NonBlank:
    """A prompt_toolkit history mixin that does not keep blank input."""

    def append_string(self, string: str) -> None:
        if string.strip():
            super().append_string(string)  # type: ignore[misc]


def _history_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold the history, or None (after creating the file, not its
    directory: a typo in the setting must not create directories)."""
    if not path.parent.is_dir():
        return f"the directory {path.parent} does not exist"
    try:
        path.touch(exist_ok=True)
        with path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        return f"cannot write {path} ({exc.strerror or exc})"
    return None


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _completer(repl: Repl) -> Completer:
    """Tab completion of ``:commands``, of source names after ``:source`` and of years after
    ``:year``; questions are not completed."""
    from prompt_toolkit.completion import Completer, Completion

    class _Commands(Completer):
        def get_completions(self, document: Document,
                            complete_event: CompleteEvent) -> Iterator[Completion]:
            text = document.text_before_cursor
            if not text.startswith(":"):
                return
            name, space, arg = text[1:].partition(" ")
            if not space:
                choices, typed = [":" + c for c in COMMANDS], text
            elif name.lower() == "source":
                choices, typed = repl.service.sources(), arg.lstrip()
            elif name.lower() == "year":
                choices, typed = [str(y) for y in corpus_years(repl.service)], arg.lstrip()
            else:
                return
            for choice in choices:
                if choice.casefold().startswith(typed.casefold()):
                    yield Completion(choice, start_position=-len(typed))

    return _Commands()
