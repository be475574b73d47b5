"""The ``qabot`` command line: ask, batch, index, add, remove, sources, eval, repl and
discord.

Every command builds one ``Settings`` object here, at the edge, and one ``QAService``.
Errors of ours become one line on standard error; tracebacks only with ``--verbose``."""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.filters import FilterError, corpus_filters, plain_number
from bot.render import (article_to_dict, render_alternatives, render_result, render_sources,
                        result_to_dict, screen, visible)
from retrieval.answerer import TOP_K_MAX, Filters
from retrieval.conversation import Conversation
from retrieval.corpus import Article
from retrieval.dates import PartialDate, human_date
from retrieval.errors import QABotError, QuestionError
from retrieval.evaluation import EvalQuestion, EvalSetError, evaluate, load_eval_set
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings
from retrieval.storage import check_location

log = logging.getLogger("qabot")

EXIT_USAGE = 2          # as argparse


def _number(text: str, expected: str = "a whole number", digits: int | None = None) -> int:
    """``text`` as a number of plain digits (see ``plain_number``; ``digits`` of them when
    given), else a usage error saying what was ``expected``."""
    value = plain_number(text)
    if value is None or (digits is not None and len(text) != digits):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _top_k(text: str) -> int:
    value = _number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    if value > TOP_K_MAX:
        raise argparse.ArgumentTypeError(f"must be {TOP_K_MAX} or less, got {value}")
    return value


def _year(text: str) -> int:
    return _number(text, "a year of four digits (e.g. 2013)", digits=4)


def _partial_date(text: str) -> PartialDate:
    try:
        return PartialDate.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("qabot")
    except PackageNotFoundError:
        return "unknown (not installed)"


class _VersionAction(argparse.Action):
    """``--version``, the package metadata read only when asked (it costs start-up time)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"qabot {_version()}")
        parser.exit()


# Examples shown at the end of each command's --help.
EXAMPLES = {
    "qabot": """\
examples:
  qabot ask "What is the Dima Yakovlev Law?"
  qabot repl
  qabot COMMAND --help     (the options and examples of a command)""",
    "ask": """\
examples:
  qabot ask "What is the Dima Yakovlev Law?"
  qabot ask "What did Lavrov say?" --source "The Hindu" --year 2013 --top-k 5
  qabot ask "Who is Sergey Magnitsky?" --json
  qabot ask --batch questions.txt > answers.jsonl
  printf '{"id": "q1", "question": "What is the reset?"}\\n' | qabot ask --batch -""",
    "index": """\
examples:
  qabot index                       (builds only when the corpus or settings changed)
  qabot index --force --corpus articles.jsonl --index-dir /tmp/articles-index
  qabot index --compact             (merges the segments that adding and removing made)""",
    "add": """\
examples:
  qabot add saved-page.html
  qabot add https://www.example.com/news/story.html --source "Example News"
  qabot add https://www.example.com/feed.xml --dry-run
  qabot add notes.md --title "Council meeting" --source "Town Hall" --date 2024-03""",
    "remove": """\
examples:
  qabot remove harbour-bridge-reopens-after-two-year-repair-1f47e28a""",
    "sources": """\
examples:
  qabot sources
  qabot sources --json | head -3""",
    "eval": """\
examples:
  qabot eval tests/data/seed_questions.json
  qabot eval my-questions.json --json --show-failures""",
    "repl": """\
examples:
  qabot repl
  qabot repl --corpus articles.jsonl
  qabot repl < questions.txt        (reads the questions line by line and answers them)""",
    "discord": """\
examples:
  DISCORD_TOKEN=... qabot discord
  qabot discord --sync-guild 123456789012345678""",
}


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
                                  "its source and its date.", epilog=EXAMPLES["qabot"],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="show the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, parents=[common], epilog=EXAMPLES[name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
        sub.set_defaults(usage_error=sub.error)  # later checks report as argparse does
        return sub

    ask = command("ask", help="answer a question (or a batch)",
                  description="Answer a question with a sentence from the articles.")
    ask.add_argument("question", nargs="?", help="the question (omit with --batch)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.add_argument("--batch", metavar="FILE", help="questions from FILE ('-' for standard "
                     "input), one per line as text or {\"id\", \"question\"}; JSON Lines out")
    ask.add_argument("--top-k", type=_top_k, metavar="N",
                     help="how many ranked answers: the answer and N-1 alternatives")
    ask.add_argument("--source", metavar="NAME", help="only articles from this source outlet "
                     "(any case; the start of its name is enough when only one outlet has it)")
    ask.add_argument("--year", type=_year, metavar="YYYY",
                     help="only articles published in this year")

    index = command("index", help="build the index",
                    description="Build (or rebuild) the index of the corpus.")
    index.add_argument("--force", action="store_true", help="rebuild even if it is up to date")
    index.add_argument("--compact", action="store_true",
                       help="merge the index's segments into one (dropping deleted articles)")

    add = command("add", help="add articles from pages, links, feeds or files",
                  description="Add articles to the corpus directory: saved pages (.html), "
                              "links (http/https), RSS or Atom feeds (every entry's page), "
                              "text or Markdown files (with or without front matter) and "
                              ".jsonl records; then bring the index up to date.")
    add.add_argument("sources", nargs="+", metavar="SOURCE",
                     help="a file, a directory of files, or an http(s) link")
    add.add_argument("--title", help="the title (one article only; wins over the page's)")
    add.add_argument("--source", metavar="NAME",
                     help="the outlet (wins over the page's site name or domain)")
    add.add_argument("--date", type=_partial_date, metavar="YYYY[-MM[-DD]]",
                     help="the publication date (wins over the page's)")
    add.add_argument("--dry-run", action="store_true",
                     help="show what would be added; change nothing")

    remove = command("remove", help="remove articles from the corpus",
                     description="Remove articles by id (see `qabot sources`): their files "
                                 "are moved into .removed/ in the corpus directory; then "
                                 "the index is brought up to date.")
    remove.add_argument("ids", nargs="+", metavar="ID")

    sources = command("sources", help="list the corpus's articles",
                      description="List the articles of the corpus with their metadata.")
    sources.add_argument("--json", action="store_true", help="print JSON Lines")

    ev = command("eval", help="evaluate on a question set",
                 description="Top-1 accuracy, MRR@10, abstention, the AUROC of the confidence "
                             "and a reliability table on a question set with expected answers "
                             "(see README).")
    ev.add_argument("file", help="the question set (JSON)")
    ev.add_argument("--json", action="store_true", help="print the figures as JSON")
    ev.add_argument("--show-failures", action="store_true", help="list the questions missed")

    command("repl", help="ask interactively",
            description="An interactive session: type questions, help for commands.")

    discord = command("discord", help="run the Discord bot",
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
    """Entry point of ``qabot``; returns the exit status (2 for a usage error, as argparse)."""
    try:
        return _main(argv)
    except SystemExit as exc:   # argparse's usage errors, --help and --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from retrieval.ingest.extract import quiet_extractor_logs
    quiet_extractor_logs(args.verbose)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        settings = settings_from_args(args)
        if args.command == "discord":
            from bot.discord import main as discord_main  # imported only when used
            return discord_main(settings, args.sync_guild)
        return _COMMANDS[args.command](args, settings)
    except FilterError as exc:      # --source or --year that the corpus does not have
        args.usage_error(str(exc))
    except QABotError as exc:
        err.print(f"[bold red]qabot:[/] {escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:         # `qabot ... | head`: the reader has what it wanted
        _silence_stdout()
        return 0
    except Exception as exc:  # a bug of ours: one line for people, the traceback in the log
        log.debug("unexpected error", exc_info=True)
        if args.verbose:
            err.print_exception()
        err.print(f"[bold red]qabot: internal error:[/] {escape(type(exc).__name__)}: "
                  f"{escape(str(exc))} (run with --verbose for details)")
        return 70


def _silence_stdout() -> None:
    """After a broken pipe, point standard output at /dev/null so that the interpreter's
    final flush does not fail again (and exit 120): see the Python docs on SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):   # no real file descriptor (tests)
        pass
    finally:
        os.close(devnull)


def _service(settings: Settings, *, rebuild: bool = False,
             save_required: bool = False) -> QAService:
    """The service, with a progress bar while indexing when a person watches standard error."""
    return QAService(settings, progress=sys.stderr.isatty(), rebuild=rebuild,
                     save_required=save_required)


def _cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    if args.batch:
        if args.question is not None:
            args.usage_error("give either a question or --batch FILE, not both")
        return _run_batch(args, settings)
    if args.question is None:
        args.usage_error("no question given: qabot ask \"QUESTION\" (or --batch FILE)")
    service = _service(settings)
    result = service.ask(args.question, filters=corpus_filters(args.source, args.year, service))
    if args.json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False))
    else:
        out = screen()
        out.print(render_result(result), crop=False)
        if result.answer is None and not result.unavailable:
            out.print("[dim]" + ("Every candidate and its confidence: --json." if
                                 result.alternatives else
                                 "Try other words; `qabot sources` lists the articles.") + "[/]")
        if result.answer is not None and result.alternatives:
            out.print("\n[dim]Other answers:[/]")
            out.print(render_alternatives(result.alternatives), crop=False)
    return 1 if result.unavailable else 0    # not answered now: a script may ask again


# ---------------------------------------------------------------------------------- batch
# Every input line gets exactly one output line, flushed at once (so that a program can use
# `qabot ask --batch -` as a worker): the answer, or an "error" saying why the line could
# not be asked. Input is read as bytes and split at "\n" only (a bare CR is part of a line);
# output is UTF-8 JSON whatever the locale.

MAX_ID_DIGITS = 4300    # Python's limit for converting integers to and from text


@dataclass(frozen=True)
class _Unusable:
    """A JSON value that cannot be echoed as standard JSON (NaN, a 5,000-digit number)."""

    why: str


def _parse_int(text: str) -> int | _Unusable:
    digits = len(text.lstrip("-"))
    if digits > MAX_ID_DIGITS:
        return _Unusable(f"a number of {digits:,} digits (more than {MAX_ID_DIGITS:,})")
    return int(text)


def _parse_float(text: str) -> float | _Unusable:
    value = float(text)
    return value if math.isfinite(value) else _Unusable(f"{text}, too large for a number")


def _batch_lines(args: argparse.Namespace) -> Iterator[tuple[int, bytes]]:
    """(line number, the line's bytes without its end of line), for each line of the input."""
    if args.batch == "-":
        yield from _numbered(sys.stdin.buffer)
        return
    try:
        handle: BinaryIO = open(args.batch, "rb")
    except OSError as exc:
        raise QABotError(f"cannot read batch file {args.batch}: {exc.strerror}") from None
    with handle:
        yield from _numbered(handle)


def _numbered(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(stream, start=1):   # binary files split at b"\n" only
        line = raw[:-1] if raw.endswith(b"\n") else raw
        yield number, line[:-1] if line.endswith(b"\r") else line


class _BatchLineError(QABotError):
    """One batch line that cannot be asked; ``ident`` is the id to report it under."""

    def __init__(self, message: str, ident: Any) -> None:
        super().__init__(message)
        self.ident = ident


def _parse_batch_line(number: int, raw: bytes) -> tuple[Any, str, str | None]:
    """The (id, question, conversation id) of a line: plain text (its id is its number, in
    no conversation) or a JSON object. Raises ``_BatchLineError`` saying why the line cannot
    be asked."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _BatchLineError(f"line {number}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at "
                              f"column {exc.start + 1})", number) from None
    if number == 1:
        text = text.removeprefix("\ufeff")     # a byte-order mark before the first line
    if not text.lstrip().startswith("{"):
        return number, text, None
    try:
        item = json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=lambda name: _Unusable(name), strict=False)
    except json.JSONDecodeError as exc:
        raise _BatchLineError(f"line {number}: not valid JSON ({exc.msg})", number) from None
    except RecursionError:
        raise _BatchLineError(f"line {number}: JSON nested too deeply", number) from None
    if not isinstance(item, dict):
        raise _BatchLineError(f"line {number}: a JSON line needs a \"question\" string", number)
    ident = item.get("id", number)
    problem = _id_problem(ident)
    if problem:
        raise _BatchLineError(f"line {number}: the \"id\" is {problem}; give a string or a "
                              "number (the line number stands for it)", number)
    if not isinstance(item.get("question"), str):
        raise _BatchLineError(f"line {number}: a JSON line needs a \"question\" string", ident)
    return ident, item["question"], _conversation_name(number, item.get("conversation"), ident)


def _id_problem(ident: Any) -> str | None:
    """Why ``ident`` cannot be echoed as it was given, or None."""
    if isinstance(ident, _Unusable):
        return ident.why
    if isinstance(ident, (dict, list)):
        return f"a JSON {'object' if isinstance(ident, dict) else 'array'}"
    if isinstance(ident, str) and not _is_text(ident):
        return "not text (it holds a lone surrogate escape)"
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _error_record(ident: Any, question: str | None, error: str) -> dict[str, Any]:
    return {"id": ident, "question": question, "answer": None, "alternatives": [],
            "message": "", "error": error}


def _batch_record(number: int, raw: bytes, service: QAService, filters: Filters,
                  conversations: dict[str, Conversation]) -> tuple[dict[str, Any], bool]:
    """The output record of one line, and whether it is an error. A line with a
    ``"conversation"`` id is asked in that conversation of ``conversations``, and adds to it."""
    try:
        ident, question, name = _parse_batch_line(number, raw)
    except _BatchLineError as exc:
        return _error_record(exc.ident, _utf8_or_none(raw), str(exc)), True
    before = None if name is None else conversations.get(name, Conversation())
    try:
        result = service.ask(question, filters=filters, conversation=before)
    except QuestionError as exc:
        return _error_record(ident, question if _is_text(question) else None,
                             f"line {number}: {exc}"), True
    if result.unavailable:    # not "no answer": the line could not be asked now
        return _error_record(ident, question, f"line {number}: {result.message}"), True
    if name is None:
        return {"id": ident, **result_to_dict(result)}, False
    if before is not None and result.turn is not None:
        conversations[name] = before.add(result.turn, service.settings.conversation)
    return {"id": ident, "conversation": name, **result_to_dict(result)}, False


def _utf8_or_none(raw: bytes) -> str | None:
    """The line as text to echo in an error record; None when it is not UTF-8 (its bytes
    are never copied into the output)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _encode_record(record: dict[str, Any], number: int) -> bytes:
    """One line of standard JSON in UTF-8 (no NaN, no lone surrogate), or an error record
    for the line when the record cannot be written so."""
    try:
        return (json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")
    except (ValueError, UnicodeEncodeError) as exc:
        fallback = _error_record(number, None, f"line {number}: the answer cannot be written "
                                               f"as JSON ({exc})")
        return (json.dumps(fallback) + "\n").encode("utf-8")


def _conversation_name(number: int, name: Any, ident: Any) -> str | None:
    """The ``"conversation"`` id of a batch line as text, or None when it has none. Raises
    ``_BatchLineError`` when it is not a string or a number."""
    if name is None:
        return None
    if not isinstance(name, (str, int)) or isinstance(name, bool) or not _is_text(str(name)):
        raise _BatchLineError(f"line {number}: \"conversation\" must be a string", ident)
    return str(name)


def _run_batch(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    filters = corpus_filters(args.source, args.year, service)
    out: BinaryIO = sys.stdout.buffer
    failures = internal = 0
    conversations: dict[str, Conversation] = {}   # lines of one id share one, in file order
    for number, raw in _batch_lines(args):
        try:
            record, failed = _batch_record(number, raw, service, filters, conversations)
        except Exception as exc:  # a bug of ours: this line says so, the batch goes on
            log.debug("internal error on batch line %d", number, exc_info=True)
            record, failed = _error_record(number, None, f"line {number}: internal error: "
                                                         f"{type(exc).__name__}"), True
            internal += 1
        failures += failed
        out.write(_encode_record(record, number))
        out.flush()
    if failures:
        log.warning("%d line(s) could not be asked; see their \"error\" field", failures)
    return 70 if internal else 0


def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    settings = settings.with_overrides(**{"index.auto_rebuild": True})
    service = _service(settings, rebuild=args.force, save_required=True)
    report = service.last_load
    state = "built" if report.rebuilt else "up to date"
    if args.compact:
        merged = len(service.index.segments_)
        report = service.compact()
        state = (f"compacted ({merged} segment{'s' if merged != 1 else ''} into "
                 f"{len(service.index.segments_)})")
    print(f"index {state}: {report.articles:,} articles, {report.passages:,} passages, "
          f"{report.sentences:,} sentences in {report.index_dir} ({report.seconds:.2f} s)")
    return 0


def _cmd_sources(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.ingest.store import stored_origins
    service = _service(settings)
    origins = {s.article_id: s.origin for s in stored_origins(settings.corpus.path)
               if s.origin is not None}
    if args.json:
        for article in service.articles:
            origin = origins.get(article.id)
            print(json.dumps({**article_to_dict(article),
                              "origin": origin.to_table() if origin else None},
                             ensure_ascii=False))
    else:
        screen(paragraphs=False).print(render_sources(service.articles, origins))
    return 0


# ---------------------------------------------------------------------- add and remove
def _cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm.auto import tqdm

    from retrieval.ingest.add import AddOptions, Ingester
    from retrieval.ingest.records import Outcome
    from retrieval.ingest.store import article_file_name, corpus_directory, has_articles
    options = AddOptions(title=args.title, source=args.source, date=args.date,
                         dry_run=args.dry_run)
    counts = {"added": 0, "would add": 0, "duplicate": 0, "failed": 0}
    added = []
    corpus_directory(settings.corpus.path)   # a .jsonl corpus: refused before any work
    check_location(settings.index_dir)       # so is an index directory that is not ours
    service = _service(settings) if has_articles(settings.corpus.path) else None
    with Ingester(settings.corpus.path, settings.ingest, settings.retrieval.rules(),
                  index=service.index if service is not None else None) as ingester:
        planned = list(ingester.plan(args.sources))
        jobs = [item for item in planned if not isinstance(item, Outcome)]
        if args.title is not None and len(jobs) > 1:
            args.usage_error(f"--title names one article, and the sources give {len(jobs)}")
        with tqdm(total=len(planned), desc="adding", unit="source", leave=False,
                  disable=not (sys.stderr.isatty() and len(planned) > 1)) as bar:
            for item in planned:
                outcome = item if isinstance(item, Outcome) else ingester.run(item, options)
                counts[outcome.status] += 1
                if outcome.status == "added" and outcome.article is not None:
                    added.append(outcome.article)
                line = _outcome_line(outcome)
                if outcome.status == "failed":
                    bar.write(line, file=sys.stderr)
                else:
                    bar.write(line, file=sys.stdout)
                bar.update()
    parts = [f"{counts['would add' if args.dry_run else 'added']} "
             f"{'would be added' if args.dry_run else 'added'}"]
    if counts["duplicate"]:
        parts.append(f"{counts['duplicate']} already in the corpus")
    if counts["failed"]:
        parts.append(f"{counts['failed']} failed")
    print(", ".join(parts) + ("" if args.dry_run else f" ({settings.corpus.path})"))
    if added:
        _update_index(settings, service, added=added,
                      files=[article_file_name(a.id) for a in added])
    return 1 if counts["failed"] else 0


def _outcome_line(outcome: Any) -> str:
    """One line for people about one source's outcome (its control characters shown)."""
    if outcome.status == "failed":    # a blank source name shown quoted, to be seen
        label = outcome.label if outcome.label.strip() else repr(outcome.label)
        return visible(f"qabot add: {label}: {outcome.message}")
    article = outcome.article
    if outcome.status == "duplicate":
        return visible(f"skipped {outcome.label}: {outcome.message}")
    line = (f"{outcome.status} {article.id}: {article.source}, {human_date(article.date)} · "
            f"{article.title}")
    return visible(line + (f" ({outcome.message})" if outcome.message else ""))


def _cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from retrieval.ingest.store import REMOVED_DIR, corpus_directory, remove_articles
    directory = corpus_directory(settings.corpus.path)
    removed = remove_articles(directory, args.ids)
    for item in removed:
        print(f"removed {item.article_id} (its files are in {directory / REMOVED_DIR})")
    _update_index(settings, None, removed=[r.article_id for r in removed],
                  files=[r.file for r in removed])
    return 0


def _update_index(settings: Settings, service: QAService | None, *,
                  added: Sequence[Article] = (), removed: Sequence[str] = (),
                  files: Sequence[str] = ()) -> None:
    """Record an add or a remove in the index (a new segment, tombstones) and open it, or,
    when the change cannot be recorded, rebuild the index (with ``index.auto_rebuild``) or
    say that it must be rebuilt; then say how it is. ``service`` is the one open since
    before the change, if any."""
    from retrieval.service import record_change
    started = time.perf_counter()
    if service is not None and settings.index.auto_rebuild:
        report = service.apply_change(added, removed, files)
    else:
        reason = record_change(settings, added, removed, files)
        if reason is not None and not settings.index.auto_rebuild:
            print(f"index not updated ({reason}): rebuild it with `qabot index` "
                  "(index.auto_rebuild is false)")
            return
        report = service.reload() if service is not None else _service(settings).last_load
        if report.rebuilt and reason is not None:
            report = replace(report, reason=reason)
    how = f"rebuilt ({report.reason})" if report.rebuilt else "updated"
    print(f"index {how}: {report.articles:,} articles, {report.passages:,} passages "
          f"({time.perf_counter() - started:.2f} s)")


def _check_expected_articles(questions: Sequence[EvalQuestion], service: QAService,
                             where: str) -> None:
    """Stop when an expected answer names an article the corpus does not have: the
    question could never be answered right, and the figures would say the bot failed."""
    known = {article.id for article in service.articles}
    missing = [q for q in questions if q.expected and q.expected.article_id not in known]
    if missing:
        listed = ", ".join(f"{q.id} ({q.expected.article_id!r})" for q in missing[:5]
                           if q.expected)
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise EvalSetError(f"{where}: {len(missing)} question(s) expect an article that is not "
                           f"in the corpus: {listed}{more}")


def _figure(value: float, answerable: int) -> str:
    """A ratio over answerable questions, or n/a when there are none."""
    return f"{value:.3f}" if answerable else "n/a"


def _cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    questions = load_eval_set(args.file)
    service = _service(settings)
    _check_expected_articles(questions, service, args.file)
    started = time.perf_counter()
    report = evaluate(questions, lambda q, **kw: service.ask(q, top_k=10, **kw),
                      settings.conversation)
    seconds = time.perf_counter() - started
    figures = {
        "questions": len(questions), "answerable": report.answerable,
        "unanswerable": report.unanswerable,
        "top1_accuracy": round(report.top1_accuracy, 4) if report.answerable else None,
        "mrr_at_10": round(report.mrr_at_10, 4) if report.answerable else None,
        "p_at_1": round(report.p_at_1, 4) if report.answerable else None,
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
                             "p_at_1": round(part.p_at_1, 4),
                             "mrr_at_10": round(part.mrr_at_10, 4)}
    if args.json:
        print(json.dumps(figures))
    else:
        table = Table(title=f"Evaluation on {args.file}", show_header=False)
        table.add_row("questions", f"{len(questions)} ({report.answerable} answerable, "
                                   f"{report.unanswerable} not answerable from the corpus)")
        table.add_row("top-1 accuracy", _figure(report.top1_accuracy, report.answerable))
        table.add_row("P@1 (first, answered or not)", _figure(report.p_at_1, report.answerable))
        table.add_row("MRR@10", _figure(report.mrr_at_10, report.answerable))
        table.add_row("abstained, not answerable", f"{report.abstained_on_unanswerable}"
                                                   f"/{report.unanswerable}")
        table.add_row("abstained, answerable", f"{report.abstained_on_answerable}"
                                               f"/{report.answerable}")
        table.add_row("overall accuracy", f"{report.accuracy:.3f}")
        for name, part in (("first turns", report.first_turns),
                           ("follow-ups", report.follow_ups)):
            if part is not None:
                table.add_row(f"{name} of conversations", f"answered right "
                              f"{part.top1_accuracy:.3f}, P@1 {part.p_at_1:.3f}, "
                              f"MRR@10 {part.mrr_at_10:.3f} ({part.answerable} answerable)")
        table.add_row("AUROC of the confidence", "n/a (needs right and wrong first answers)"
                      if report.auroc is None else f"{report.auroc:.3f}")
        table.add_row("time per question", f"{figures['ms_per_question']} ms")
        console = screen(paragraphs=False)
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
                print(f"MISS {outcome.question.id}: {outcome.question.question}\n  got: "
                      f"{visible(got)}"
                      f"\n  rank of expected: {outcome.rank}", file=sys.stderr)
    return 0


def _cmd_repl(args: argparse.Namespace, settings: Settings) -> int:
    from bot.repl import Repl  # prompt_toolkit is imported only for the REPL
    return Repl(_service(settings), settings).run()


_COMMANDS = {"ask": _cmd_ask, "index": _cmd_index, "add": _cmd_add, "remove": _cmd_remove,
             "sources": _cmd_sources,
             "eval": _cmd_eval, "repl": _cmd_repl}


if __name__ == "__main__":
    sys.exit(main())
