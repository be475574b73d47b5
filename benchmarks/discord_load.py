"""How the Discord bot behaves when many questions arrive at once, measured offline.

The real discord.py bot is driven by dpytest (no network, no Discord): N members each
@mention the bot with a question in the same instant; the script records when each reply
is sent, and a ticker task measures how late the event loop wakes it up (event-loop lag),
which is what would delay gateway heartbeats and every other answer.

It runs the bot as built (retrieval in the executor) and, for comparison, with retrieval
called on the event loop ("inline"), which is what the executor is there to avoid.

    .venv/bin/python -m benchmarks.discord_load                    # bundled corpus, 50 questions
    .venv/bin/python -m benchmarks.discord_load --corpus squad     # SQuAD dev: 2,067 articles
    .venv/bin/python -m benchmarks.discord_load --corpus scaled:20000 --questions 100
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord.ext.test as dpytest

from bot.discord import create_bot
from bot.discord.cog import QACog
from retrieval.answerer import Filters, Result
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings
from tests.discord_fixtures import start_offline, stop_offline

REPO = Path(__file__).resolve().parent.parent
SEED_QUESTIONS = REPO / "tests" / "data" / "seed_questions.json"
LAG_BUDGET = 0.100   # seconds the event loop may be blocked at most


@dataclass(frozen=True)
class Figures:
    mode: str
    questions: int
    answered: int
    answer_ms: list[float]
    wall_ms: float
    max_lag_ms: float
    p99_lag_ms: float
    ticks_over_budget: int
    workers: int


async def _ticker(interval: float, lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    expected = loop.time() + interval
    while not stop.is_set():
        await asyncio.sleep(interval)
        now = loop.time()
        lags.append(max(0.0, now - expected))
        expected = now + interval


async def measure(service: QAService, questions: list[str], *, inline: bool,
                  tick: float, workers: int | None = None) -> Figures:
    """Send every question at once as @mentions from distinct members; time the replies."""
    bot = create_bot(service.settings, service, workers=workers)
    await start_offline(bot, members=len(questions))
    cog = bot.get_cog("Questions")
    assert isinstance(cog, QACog) and bot.user is not None
    if inline:   # what the executor prevents: CPU work on the event loop
        async def on_the_loop(question: str, filters: Filters | None = None) -> Result:
            return service.ask(question, None, filters)
        cog.answer = on_the_loop  # type: ignore[method-assign]

    sent_at: dict[int, float] = {}
    http = bot._connection.http
    inner = http.send_message

    async def send_message(channel_id: int, *, params: Any) -> Any:
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841  (read by dpytest)
        reference = (params.payload or {}).get("message_reference") or {}
        sent_at[reference.get("message_id", -1)] = time.perf_counter()
        return await inner(channel_id, params=params)

    http.send_message = send_message  # type: ignore[method-assign]

    config = dpytest.get_config()
    channel = config.channels[0]
    lags: list[float] = []
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(tick, lags, stop))
    await asyncio.sleep(tick * 3)                 # a few quiet ticks first
    asked_at: dict[int, float] = {}
    started = time.perf_counter()
    for member, question in zip(config.members, questions):
        at = time.perf_counter()
        message = dpytest.backend.make_message(f"<@{bot.user.id}> {question}", member, channel)
        asked_at[message.id] = at
        await asyncio.sleep(0)   # like discord.py's gateway reader: one event per loop turn
    await dpytest.run_all_events()
    wall = time.perf_counter() - started
    await asyncio.sleep(tick * 3)
    stop.set()
    await ticker
    await stop_offline(bot)

    answer_ms = sorted((sent_at[i] - t) * 1000 for i, t in asked_at.items() if i in sent_at)
    lag_ms = sorted(lag * 1000 for lag in lags) or [0.0]
    return Figures("inline (on the event loop)" if inline else "executor (as built)",
                   len(questions), len(answer_ms), answer_ms, wall * 1000, lag_ms[-1],
                   lag_ms[min(len(lag_ms) - 1, int(len(lag_ms) * 0.99))],
                   sum(1 for lag in lag_ms if lag > LAG_BUDGET * 1000),
                   0 if inline else bot.executor._max_workers)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def report(f: Figures) -> str:
    a = f.answer_ms
    workers = f", {f.workers} worker threads" if f.workers else ""
    return (f"{f.mode}{workers}\n"
            f"  answered {f.answered}/{f.questions}; all replies sent within {f.wall_ms:.0f} ms "
            f"({f.answered / (f.wall_ms / 1000):.0f} questions/s)\n"
            f"  answer time ms (from arrival to reply sent): min {a[0]:.1f}  median {statistics.median(a):.1f}  "
            f"p95 {percentile(a, 0.95):.1f}  max {a[-1]:.1f}\n"
            f"  event-loop lag ms: max {f.max_lag_ms:.1f}  p99 {f.p99_lag_ms:.1f}  "
            f"ticks late by more than {LAG_BUDGET * 1000:.0f} ms: {f.ticks_over_budget}")


# ------------------------------------------------------------------------------ set-up
def corpus_and_questions(kind: str, workdir: Path, n: int) -> tuple[Settings, list[str], str]:
    """Settings over the chosen corpus (index in ``workdir``) and ``n`` questions."""
    settings = load_settings(environ={}).with_overrides(**{"index.dir": str(workdir / "index")})
    if kind == "bundled":
        seed = json.loads(SEED_QUESTIONS.read_text(encoding="utf-8"))["questions"]
        pool = [q["question"] for q in seed]
        return settings, [pool[i % len(pool)] for i in range(n)], "bundled corpus"
    from benchmarks.data import load_squad, scaled_corpus, write_jsonl   # SQuAD dev, offline
    articles, squad_questions = load_squad()
    if kind.startswith("scaled:"):
        articles = list(scaled_corpus(int(kind.partition(":")[2]), articles))
    elif kind != "squad":
        raise SystemExit(f"--corpus: expected bundled, squad or scaled:N, not {kind!r}")
    path = write_jsonl(articles, workdir / "corpus.jsonl")
    settings = settings.with_overrides(**{"corpus.path": str(path)})
    return settings, [q.text for q in squad_questions[:n]], f"{kind} corpus"


async def run(service: QAService, questions: list[str], modes: list[bool],
              tick: float, workers: int | None, repeat: int) -> list[Figures]:
    return [await measure(service, questions, inline=inline, tick=tick, workers=workers)
            for _ in range(repeat) for inline in modes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=50, help="questions at once (50)")
    parser.add_argument("--corpus", default="bundled", help="bundled, squad or scaled:N")
    parser.add_argument("--mode", choices=("executor", "inline", "both"), default="both")
    parser.add_argument("--workers", type=int, default=None,
                        help="executor threads (default: the bot's, min(4, CPUs))")
    parser.add_argument("--switch-interval-ms", type=float, default=None,
                        help="sys.setswitchinterval for the run (Python's default: 5 ms)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each mode (3)")
    parser.add_argument("--tick-ms", type=float, default=5.0, help="ticker period (5 ms)")
    args = parser.parse_args(argv)
    if args.switch_interval_ms is not None:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    with tempfile.TemporaryDirectory(prefix="qabot-discord-load-") as tmp:
        settings, questions, label = corpus_and_questions(args.corpus, Path(tmp), args.questions)
        service = QAService(settings)
        report_ = service.last_load
        started = time.perf_counter()
        for q in questions:
            service.ask(q)
        per_ask = (time.perf_counter() - started) * 1000 / len(questions)
        print(f"qabot Discord load test, offline (dpytest): {len(questions)} questions at once "
              f"from {len(questions)} members; {label}: {report_.articles} articles, "
              f"{report_.passages} passages; QAService.ask alone takes {per_ask:.1f} ms "
              "per question")
        modes = {"executor": [False], "inline": [True], "both": [False, True]}[args.mode]
        figures = asyncio.run(run(service, questions, modes, args.tick_ms / 1000,
                                  args.workers, args.repeat))
    for f in figures:
        print(report(f))
    for mode in dict.fromkeys(f.mode for f in figures):
        runs = [f for f in figures if f.mode == mode]
        print(f"{mode}, worst of {len(runs)} runs: max answer time "
              f"{max(f.answer_ms[-1] for f in runs):.1f} ms, max event-loop lag "
              f"{max(f.max_lag_ms for f in runs):.1f} ms")
    built = [f for f in figures if f.mode.startswith("executor")]
    return 1 if any(f.max_lag_ms > LAG_BUDGET * 1000 for f in built) else 0


if __name__ == "__main__":
    sys.exit(main())
