"""The interactive REPL: prompt_toolkit for input (history, editing), rich for output.

``Repl.handle`` turns one line into output and is what the tests drive; ``Repl.run`` is the
prompt loop around it."""
from __future__ import annotations

from dataclasses import dataclass, field

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, InMemoryHistory, History
from prompt_toolkit.input import Input
from prompt_toolkit.output import Output
from rich.console import Console
from rich.markup import escape

from bot.render import (followup_hint, render_alternatives, render_context, render_result,
                        render_sources)
from retrieval.conversation import Conversation
from retrieval.answerer import Result
from retrieval.errors import QABotError
from retrieval.service import QAService
from retrieval.settings import Settings

HELP = """\
Type a question and press Enter. Commands:
  :help        this help
  :sources     the articles in the corpus
  :more        the other answers to the last question
  :context     the paragraph around the last answer
  :new         start a new conversation (follow-ups are read in the conversation's context)
  :k N         how many answers to rank (now {k})
  :quit        leave (or Ctrl-D); Ctrl-C clears the line"""


@dataclass
class Repl:
    """One interactive session over a ``QAService``."""

    service: QAService
    settings: Settings
    console: Console = field(default_factory=lambda: Console(highlight=False, soft_wrap=True))
    top_k: int = 0
    last: Result | None = None
    conversation: Conversation = field(default_factory=Conversation)

    def __post_init__(self) -> None:
        self.top_k = self.top_k or self.settings.answer.top_k

    def handle(self, line: str) -> bool:
        """Act on one input line; False when the session should end."""
        text = line.strip()
        if not text:
            return True
        if text.startswith(":"):
            return self._command(text)
        try:
            self.last = self.service.ask(text, top_k=self.top_k, conversation=self.conversation)
        except QABotError as exc:
            self.console.print(f"[yellow]{escape(str(exc))}[/]")
            return True
        if self.last.turn is not None:
            self.conversation = self.conversation.add(self.last.turn,
                                                      self.settings.conversation)
        hint = followup_hint(self.last)
        if hint is not None:
            self.console.print(f"[dim]({escape(hint)}; :new starts afresh)[/]")
        self.console.print(render_result(self.last))
        if self.last.answer is not None and self.last.alternatives:
            self.console.print(f"[dim]{len(self.last.alternatives)} more: :more · "
                               "paragraph: :context[/]")
        elif self.last.answer is None:
            self.console.print("[dim]" + (":more lists every candidate with its confidence"
                                          if self.last.alternatives else
                                          "Try other words; :sources lists the articles") + "[/]")
        return True

    def _command(self, text: str) -> bool:
        name, _, arg = text[1:].partition(" ")
        name, arg = name.lower(), arg.strip()
        if name in ("q", "quit", "exit"):
            return False
        if name in ("h", "help", "?"):
            self.console.print(escape(HELP.format(k=self.top_k)))
        elif name == "sources":
            self.console.print(render_sources(self.service.articles))
        elif name == "more":
            if self.last is None:
                self.console.print("[yellow]Ask a question first.[/]")
            else:
                self.console.print(render_alternatives(self.last.alternatives))
        elif name == "context":
            best = self.last.ranked[0] if self.last is not None and self.last.ranked else None
            if best is None:
                self.console.print("[yellow]Ask a question first.[/]")
            else:
                self.console.print(render_context(best))
        elif name == "new":
            self.conversation = Conversation()
            self.console.print("[dim]New conversation: the next question is read alone.[/]")
        elif name == "k":
            self._set_k(arg)
        else:
            self.console.print(f"[yellow]Unknown command :{escape(name)}; :help lists them.[/]")
        return True

    def _set_k(self, arg: str) -> None:
        if not arg:
            self.console.print(f"answers ranked: {self.top_k}")
            return
        try:
            value = int(arg)
            if not 1 <= value <= 50:
                raise ValueError
        except ValueError:
            self.console.print(f"[yellow]:k needs a whole number from 1 to 50, not {escape(arg)!r}[/]")
            return
        self.top_k = value
        self.console.print(f"answers ranked: {value}")

    def _history(self) -> History:
        path = self.settings.repl.history_file
        if path is None:
            return InMemoryHistory()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
        except OSError:
            self.console.print(f"[dim]history not saved: cannot write {escape(str(path))}[/]")
            return InMemoryHistory()
        return FileHistory(str(path))

    def run(self, *, input: Input | None = None, output: Output | None = None) -> int:
        """The prompt loop. Ctrl-C clears the line, Ctrl-D or :quit leaves."""
        session: PromptSession[str] = PromptSession(history=self._history(), input=input,
                                                    output=output)
        report = self.service.last_load
        self.console.print(f"[bold]qabot[/] — {report.articles} articles, {report.sentences} "
                           "sentences. Ask a question, or :help.")
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
