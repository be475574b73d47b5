"""Turning a ``Result`` into what people and scripts read: rich text for the terminal and a
JSON-ready dict. No ranking or filtering happens here.

Whatever comes from an article or a source (a quote, a title, a link, an id) is shown to
people through ``visible``: a control character in it (an escape sequence that would clear
the screen, set the window's title or hide a link) is shown as a symbol, never sent to the
terminal. The JSON shapes keep the text exact."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import re

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from retrieval.answerer import Answer, ContextUse, Result, SourceRef
from retrieval.corpus import Article
from retrieval.dates import human_date
from retrieval.ingest.records import Origin


# C0 controls but tab and newline, DEL and the C1 controls; a CR alone is dropped (CRLF line
# ends are kept by the stored text; a lone CR would let a line overwrite itself).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x0D:
        return ""
    if code < 0x20:
        return chr(0x2400 + code)          # ␛ for ESC, ␇ for BEL: Unicode's control pictures
    return "␡" if code == 0x7F else f"<U+{code:04X}>"


def visible(text: str) -> str:
    """``text`` as people are shown it: its control characters (but newline and tab) shown
    as symbols, a CR dropped."""
    return _CONTROL.sub(_symbol, text)


class _Screen(Console):
    """A rich console whose broken pipe (`qabot ... | head`) is a ``BrokenPipeError`` for
    the command line to end quietly with status 0; rich itself exits with status 1."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError


def screen(*, paragraphs: bool = True, **options: Any) -> Console:
    """A console for people. With ``paragraphs``: at a terminal, text wraps at word
    boundaries to its width; into a pipe or a file, each paragraph stays one line (for grep,
    and for a pager to wrap). Tables always fit the width."""
    console = _Screen(highlight=False, **options)
    console.soft_wrap = paragraphs and not console.is_terminal
    return console


def answer_to_dict(answer: Answer) -> dict[str, Any]:
    """The JSON shape of one answer."""
    return {
        "text": answer.text,
        "article_id": answer.article_id,
        "title": answer.title,
        "source": answer.source,
        "date": answer.date.iso() if answer.date else None,
        "url": answer.url,
        "score": answer.score,
        "confidence": answer.confidence,
        "context": {"before": answer.before, "after": answer.after},
        "also_in": [_ref_to_dict(ref) for ref in answer.also_in],
    }


def _ref_to_dict(ref: SourceRef) -> dict[str, Any]:
    return {"article_id": ref.article_id, "title": ref.title, "source": ref.source,
            "date": ref.date.iso() if ref.date else None, "url": ref.url}


def result_to_dict(result: Result) -> dict[str, Any]:
    """The JSON shape of a result: ``{"question", "answer", "alternatives", "message",
    "follow_up", "unavailable"}`` (``unavailable``: part of the index did not answer, so the
    question was not answered; ask again)."""
    return {
        "question": result.question,
        "answer": answer_to_dict(result.answer) if result.answer else None,
        "alternatives": [answer_to_dict(a) for a in result.alternatives],
        "message": result.message,
        "follow_up": follow_up_to_dict(result.context),
        "unavailable": result.unavailable,
    }


def follow_up_to_dict(context: ContextUse | None) -> dict[str, Any] | None:
    """How the conversation was used: null when the question was read alone."""
    if context is None:
        return None
    return {"follows": context.follows, "reason": context.reason,
            "carried_terms": list(context.carried), "articles": list(context.articles)}


def followup_hint(result: Result) -> str | None:
    """"read as a follow-up to “…”" when the conversation shaped the result, else None."""
    if result.context is None:
        return None
    return f"read as a follow-up to “{result.context.follows}”"


def article_to_dict(article: Article) -> dict[str, Any]:
    """The JSON shape of an article's metadata (no text)."""
    return {"id": article.id, "title": article.title, "source": article.source,
            "date": article.date.iso() if article.date else None, "url": article.url,
            "author": article.author}


def citation(answer: Answer | SourceRef) -> Text:
    """``Source, 4 February 2013 · Title`` (the title linked to the article when known)."""
    line = Text()
    line.append(visible(answer.source), style="bold cyan")
    line.append(", ")
    line.append(human_date(answer.date), style="green")
    line.append(" · ")
    line.append(visible(answer.title), style=_linked("italic", answer.url))
    return line


def _linked(style: str, url: str | None) -> str:
    """``style`` linking to ``url`` when it can be a link (no space or control in it)."""
    return f"{style} link {url}".strip() if url and visible(url) == url and \
        not any(c.isspace() for c in url) else style


def confidence_words(confidence: float) -> str:
    """How sure the bot is, in words, with the probability: "likely (87%)"."""
    word = ("very likely" if confidence >= 0.85 else "likely" if confidence >= 0.6
            else "possibly" if confidence >= 0.4 else "unsure" if confidence >= 0.2
            else "unlikely")
    return f"{word} ({confidence:.0%})"


# Quotation marks a sentence may open or close with: it then carries its own marks.
_OPENING_MARKS = ("“", "\"", "„", "«", "‘", "'")


def quoted(text: str) -> str:
    """``text`` between “ and ”, or as it is when it opens with a quotation mark itself: a
    sentence that starts by quoting someone is not shown as ``““We will ...``."""
    return text if text.startswith(_OPENING_MARKS) else f"“{text}”"


def _url_line(url: str) -> Text:
    """A link on a line of its own, never broken: terminals recognise it whole (a long one
    runs past the edge rather than being cut in two)."""
    return Text("    " + visible(url), style="dim", no_wrap=True, overflow="ignore")


@dataclass(frozen=True)
class Hanging:
    """``label`` then ``text`` wrapped at word boundaries, its wrapped lines starting under
    its first character (a hanging indent), with no padding after the words."""

    label: Text
    text: Text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if options.no_wrap:   # soft wrap: one line, whatever its length
            yield Text.assemble(self.label, self.text, no_wrap=True, overflow="ignore")
            return
        indent = self.label.cell_len
        width = max(options.max_width - indent, 10)
        for i, line in enumerate(self.text.wrap(console, width)):
            line.rstrip()
            yield Text.assemble(self.label if i == 0 else " " * indent, line)


def render_answer(answer: Answer, *, rank: int | None = None) -> RenderableType:
    """The quote, then where it comes from, its link and how sure the bot is. Text wraps at
    word boundaries to the console's width."""
    quote = Text(visible(quoted(answer.text)), style="bold")
    lines: list[RenderableType] = [
        Hanging(Text(f"{rank}. " if rank is not None else "", style="bold"), quote),
        Hanging(Text("  — "), citation(answer))]
    if answer.url:
        lines.append(_url_line(answer.url))
    for ref in answer.also_in:
        lines.append(Text("  also reported by ", style="dim").append_text(citation(ref)))
    lines.append(Text(f"    {confidence_words(answer.confidence)} · score {answer.score:.2f}",
                      style="dim"))
    return Group(*lines)


UNSURE_SHOWN = 2      # closest sentences shown under a no-answer ...
UNSURE_FLOOR = 0.2    # ... when their confidence is at least this ("unsure", not "unlikely")


def render_result(result: Result) -> RenderableType:
    """The answer, or the no-answer message and, when there are candidates below
    ``answer.min_confidence`` but not unlikely, the closest two, dimmed and introduced as
    unsure (never shown as if they were answers)."""
    if result.answer is not None:
        return render_answer(result.answer)
    if result.unavailable:          # not a question the articles do not answer: ask again
        return Text(visible(result.message), style="bold yellow")
    message = Text("No answer. ", style="bold yellow").append(visible(result.message))
    shown = [a for a in result.alternatives[:UNSURE_SHOWN] if a.confidence >= UNSURE_FLOOR]
    if not shown:
        return message
    closest = [Text("Unsure: the closest sentences are", style="yellow")]
    for answer in shown:
        closest.append(Hanging(Text("  "), Text(visible(quoted(answer.text)), style="dim")
                               .append_text(Text(" — ").append_text(citation(answer)))
                               .append(f" · {confidence_words(answer.confidence)}",
                                       style="dim")))
    return Group(message, *closest)


def render_alternatives(alternatives: Iterable[Answer]) -> RenderableType:
    """Ranked alternatives, numbered from 1."""
    items = [render_answer(a, rank=i) for i, a in enumerate(alternatives, start=1)]
    return Group(*items) if items else Text("No other answers.", style="dim")


def render_context(answer: Answer) -> RenderableType:
    """The paragraph around the answer with the answer highlighted, and its neighbours."""
    paragraph = Text(visible(answer.paragraph))
    paragraph.highlight_words([visible(answer.text)], style="bold yellow")
    parts: list[RenderableType] = [citation(answer), paragraph]
    if answer.before and answer.before not in answer.paragraph:
        parts.insert(1, Text("… " + visible(answer.before), style="dim"))
    if answer.after and answer.after not in answer.paragraph:
        parts.append(Text(visible(answer.after) + " …", style="dim"))
    return Group(*parts)


def render_sources(articles: Iterable[Article],
                   origins: Mapping[str, Origin] | None = None) -> Table:
    """A table of the corpus's articles that reads at 80 columns: the title gets the room,
    the id goes under it (dim), the source wraps at words; for an article ``qabot add``
    added (its ``origins``), when and from where."""
    table = Table(title="Articles in the corpus", show_lines=True, expand=True)
    table.add_column("Date", style="green", no_wrap=True)
    table.add_column("Source", style="cyan", ratio=1, min_width=8)
    table.add_column("Title and id", ratio=2, min_width=20, overflow="fold")
    for article in articles:
        cell = Text(visible(article.title), style=_linked("", article.url))
        cell.append("\n" + visible(article.id), style="dim")
        origin = (origins or {}).get(article.id)
        if origin is not None:
            cell.append(visible(f"\nadded {origin.added.replace('T', ' ')} from "
                                f"{origin.feed + ' › ' if origin.feed else ''}{origin.given}"),
                        style="dim")
            if origin.syndicated_of:
                cell.append(f"\na syndicated copy of {visible(origin.syndicated_of)}",
                            style="dim")
        table.add_row(human_date(article.date), visible(article.source), cell)
    return table
