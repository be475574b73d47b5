"""The ``qabot`` command line: ask, batch, index, sources, eval, repl and discord.

Every command builds one ``Settings`` object here, at the edge, and one ``QAService``.
Errors of ours become one line on standard error; tracebacks only with ``--verbose``."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.render import (article_to_dict, render_alternatives, render_result, render_sources,
                        result_to_dict)
from retrieval.answerer import Filters
from retrieval.conversation import Conversation
from retrieval.errors import QABotError, QuestionError
from retrieval.evaluation import evaluate, load_eval_set
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings

log = logging.getLogger("qabot")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for the README's reference and for tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="a TOML file overriding config/default.toml")
    common.add_argument("--corpus", metavar="PATH", help="a corpus directory or .jsonl file")
    common.add_argument("--index-dir", metavar="DIR",
                        help="where the index is saved (default: one directory per corpus "
                             "under the user's cache directory)")
    common.add_argument("-v", "--verbose", action="store_true", help="log progress and tracebacks")

    parser = argparse.ArgumentParser(
        prog="qabot", description="Answers questions about news articles with an exact quote, "
                                  "its source and its date.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ask = commands.add_parser("ask", parents=[common], help="answer a question (or a batch)",
                              description="Answer a question with a sentence from the articles.")
    ask.add_argument("question", nargs="?", help="the question (omit with --batch)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--batch", metavar="FILE", help="questions from FILE ('-' for standard "
                     "input), one per line as text or {\"id\", \"question\"}; JSON Lines out")
    ask.add_argument("--top-k", type=_positive_int, metavar="N",
                     help="how many ranked answers: the answer and N-1 alternatives")
    ask.add_argument("--source", help="only articles from this source outlet")
    ask.add_argument("--year", type=int, help="only articles published in this year")

    index = commands.add_parser("index", parents=[common], help="build the index",
                                description="Build (or rebuild) the index of the corpus.")
    index.add_argument("--force", action="store_true", help="rebuild even if it is up to date")

    sources = commands.add_parser("sources", parents=[common], help="list the corpus's articles")
    sources.add_argument("--json", action="store_true", help="print JSON Lines")

    ev = commands.add_parser("eval", parents=[common], help="evaluate on a question set",
                             description="Top-1 accuracy, MRR@10, abstention, the AUROC of the "
                                         "confidence and a reliability table on a question "
                                         "set with expected answers (see README).")
    ev.add_argument("file", help="the question set (JSON)")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.add_argument("--show-failures", action="store_true", help="list the questions missed")

    commands.add_parser("repl", parents=[common], help="ask interactively",
                        description="An interactive session: type questions, :help for commands.")

    discord = commands.add_parser("discord", parents=[common], help="run the Discord bot",
                                  description="Run the Discord bot (token in DISCORD_TOKEN).")
    discord.add_argument("--sync-guild", type=int, metavar="ID",
                         help="sync slash commands to this guild at once (development)")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Default config, user config, environment, then the command-line flags."""
    settings = load_settings(args.config)
    overrides: dict[str, Any] = {}
    if args.corpus:
        overrides["corpus.path"] = args.corpus
    if args.index_dir:
        overrides["index.dir"] = args.index_dir
    if getattr(args, "top_k", None):
        overrides["answer.top_k"] = args.top_k
    return settings.with_overrides(**overrides) if overrides else settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qabot``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = settings_from_args(args)
        if args.command == "discord":
            from bot.discord import main as discord_main  # imported only when used
            return discord_main(settings, args.sync_guild)
        return _COMMANDS[args.command](args, settings)
    except QABotError as exc:
        err.print(f"[bold red]qabot:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug of ours: one line for people, the traceback in the log
        log.debug("unexpected error", exc_info=True)
        if args.verbose:
            err.print_exception()
        err.print(f"[bold red]qabot: internal error:[/] {escape(type(exc).__name__)}: "
                  f"{escape(str(exc))} (run with --verbose for details)")
        return 70


def _service(settings: Settings, *, rebuild: bool = False,
             save_required: bool = False) -> QAService:
    """The service, with a progress bar while indexing when a person watches standard error."""
    return QAService(settings, progress=sys.stderr.isatty(), rebuild=rebuild,
                     save_required=save_required)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch:
        if args.question:
            raise QABotError("give either a question or --batch FILE, not both")
        return _run_batch(args, settings)
    if args.question is None:
        raise QuestionError("no question given: qabot ask \"QUESTION\" (or --batch FILE)")
    service = _service(settings)
    result = service.ask(args.question, filters=Filters(args.source, args.year))
    if args.json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False))
    else:
        out = Console(highlight=False, soft_wrap=True)  # a quote is never broken by us
        out.print(render_result(result))
        if result.answer is None:
            out.print("[dim]" + ("Every candidate and its confidence: --json." if
                                 result.alternatives else
                                 "Try other words; `qabot sources` lists the articles.") + "[/]")
        if result.answer is not None and result.alternatives:
            out.print("\n[dim]Other answers:[/]")
            out.print(render_alternatives(result.alternatives))
    return 0


def _batch_lines(args: argparse.Namespace) -> Iterator[tuple[int, str]]:
    if args.batch == "-":
        yield from enumerate(sys.stdin, start=1)
        return
    try:
        handle: TextIO = open(args.batch, encoding="utf-8", errors="strict")
    except OSError as exc:
        raise QABotError(f"cannot read batch file {args.batch}: {exc.strerror}") from None
    with handle:
        try:
            yield from enumerate(handle, start=1)
        except UnicodeDecodeError as exc:
            raise QABotError(f"{args.batch}: not UTF-8 text ({exc.reason})") from None


def _parse_batch_line(number: int, line: str) -> tuple[Any, str]:
    text = line.rstrip("\r\n")
    if text.lstrip().startswith("{"):
        try:
            item = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QuestionError(f"line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise QuestionError(f"line {number}: a JSON line needs a \"question\" string")
        return item.get("id", number), item["question"]
    return number, text


def _batch_conversation(number: int, line: str) -> str | None:
    """The ``"conversation"`` id of a JSON batch line, or None when it has none."""
    if not line.lstrip().startswith("{"):
        return None
    item = json.loads(line)     # already parsed without error by _parse_batch_line
    name = item.get("conversation") if isinstance(item, dict) else None
    if name is None:
        return None
    if not isinstance(name, (str, int)) or isinstance(name, bool):
        raise QuestionError(f"line {number}: \"conversation\" must be a string")
    return str(name)


def _run_batch(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    filters = Filters(args.source, args.year)
    failures = 0
    conversations: dict[str, Conversation] = {}   # lines of one id share one, in file order
    for number, line in _batch_lines(args):
        if not line.strip():
            continue
        ident: Any = number
        try:
            ident, question = _parse_batch_line(number, line)
            name = _batch_conversation(number, line)
            result = service.ask(question, filters=filters,
                                 conversation=None if name is None else conversations.get(
                                     name, Conversation()))
            if name is not None and result.turn is not None:
                conversations[name] = conversations.get(name, Conversation()).add(
                    result.turn, settings.conversation)
            record = {"id": ident, **({"conversation": name} if name is not None else {}),
                      **result_to_dict(result)}
        except QuestionError as exc:
            failures += 1
            record = {"id": ident, "question": line.rstrip("\r\n"), "answer": None,
                      "alternatives": [], "message": "", "error": str(exc)}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    if failures:
        log.warning("%d question(s) could not be asked; see their \"error\" field", failures)
    return 0


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_overrides(**{"index.auto_rebuild": True})
    report = _service(settings, rebuild=args.force, save_required=True).last_load
    state = "built" if report.rebuilt else "up to date"
    print(f"index {state}: {report.articles:,} articles, {report.passages:,} passages, "
          f"{report.sentences:,} sentences in {report.index_dir} ({report.seconds:.2f} s)")
    return 0


def _cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    if args.json:
        for article in service.articles:
            print(json.dumps(article_to_dict(article), ensure_ascii=False))
    else:
        Console(highlight=False).print(render_sources(service.articles))
    return 0


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    questions = load_eval_set(args.file)
    service = _service(settings)
    started = time.perf_counter()
    report = evaluate(questions, lambda q, **kw: service.ask(q, top_k=10, **kw),
                      settings.conversation)
    seconds = time.perf_counter() - started
    figures = {
        "questions": len(questions), "answerable": report.answerable,
        "unanswerable": report.unanswerable, "top1_accuracy": round(report.top1_accuracy, 4),
        "mrr_at_10": round(report.mrr_at_10, 4),
        "abstained_on_unanswerable": report.abstained_on_unanswerable,
        "abstained_on_answerable": report.abstained_on_answerable,
        "accuracy": round(report.accuracy, 4),
        "auroc": None if report.auroc is None else round(report.auroc, 4),
        "calibration": [{"confidence": f"{b.low:.1f}-{b.high:.1f}", "questions": b.count,
                         "predicted": round(b.mean_confidence, 4),
                         "observed": round(b.observed, 4)} for b in report.calibration],
        "ms_per_question": round(1000 * seconds / len(questions), 2),
    }
    for name, part in (("first_turns", report.first_turns), ("follow_ups", report.follow_ups)):
        if part is not None:
            figures[name] = {"answerable": part.answerable,
                             "top1_accuracy": round(part.top1_accuracy, 4),
                             "mrr_at_10": round(part.mrr_at_10, 4)}
    if args.json:
        print(json.dumps(figures))
    else:
        table = Table(title=f"Evaluation on {args.file}", show_header=False)
        table.add_row("questions", f"{len(questions)} ({report.answerable} answerable, "
                                   f"{report.unanswerable} not answerable from the corpus)")
        table.add_row("top-1 accuracy", f"{report.top1_accuracy:.3f}")
        table.add_row("MRR@10", f"{report.mrr_at_10:.3f}")
        table.add_row("abstained, not answerable", f"{report.abstained_on_unanswerable}"
                                                   f"/{report.unanswerable}")
        table.add_row("abstained, answerable", f"{report.abstained_on_answerable}"
                                               f"/{report.answerable}")
        table.add_row("overall accuracy", f"{report.accuracy:.3f}")
        for name, part in (("first turns", report.first_turns),
                           ("follow-ups", report.follow_ups)):
            if part is not None:
                table.add_row(f"{name} of conversations", f"top-1 {part.top1_accuracy:.3f}, "
                              f"MRR@10 {part.mrr_at_10:.3f} ({part.answerable} answerable)")
        table.add_row("AUROC of the confidence", "n/a (needs right and wrong first answers)"
                      if report.auroc is None else f"{report.auroc:.3f}")
        table.add_row("time per question", f"{figures['ms_per_question']} ms")
        console = Console(highlight=False)
        console.print(table)
        bins = Table(title="Reliability: confidence of the first candidate against how often "
                           "it was the right sentence")
        for column in ("confidence", "questions", "predicted", "observed"):
            bins.add_column(column, justify="right")
        for b in report.calibration:
            bins.add_row(f"{b.low:.1f}-{b.high:.1f}", str(b.count), f"{b.mean_confidence:.2f}",
                         f"{b.observed:.2f}")
        console.print(bins)
    if args.show_failures:
        for outcome in report.outcomes:
            if not outcome.correct:
                got = outcome.result.answer.text if outcome.result.answer else "(no answer)"
                print(f"MISS {outcome.question.id}: {outcome.question.question}\n  got: {got}"
                      f"\n  rank of expected: {outcome.rank}", file=sys.stderr)
    return 0


def _cmd_repl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.repl import Repl  # prompt_toolkit is imported only for the REPL
    return Repl(_service(settings), settings).run()


_COMMANDS = {"ask": _cmd_ask, "index": _cmd_index, "sources": _cmd_sources,
             "eval": _cmd_eval, "repl": _cmd_repl}


if __name__ == "__main__":
    sys.exit(main())
