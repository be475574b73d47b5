"""The CPU cost of one question on a real news corpus: RealTimeQA's ``tune`` articles
(132,583 passages), ``--queries`` questions asked one after another in one process after 20
other warm-up questions (the compiled first stage from the second), ``time.process_time``
around each ``Answerer.ask``. Run it in two checkouts to compare them (the figures of
benchmarks/README.md, section 0):

    python -m benchmarks.question_cost [--queries N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from benchmarks.realtimeqa import REALTIMEQA
from retrieval.answerer import Answerer
from retrieval.corpus import load_corpus
from retrieval.settings import load_settings

WARM_UP = 20   # questions asked first, not timed


def run(queries: int = 300) -> dict:
    settings = load_settings(environ={})
    articles = list(load_corpus(REALTIMEQA / "tune" / "corpus.jsonl").articles)
    index = settings.retrieval.index().fit(articles)
    answerer = Answerer(index, articles, settings.answer)
    with (REALTIMEQA / "tune" / "questions.jsonl").open(encoding="utf-8") as handle:
        questions = [json.loads(line)["question"] for line in handle][:queries + WARM_UP]
    for q in questions[:WARM_UP]:
        answerer.ask(q)
    cpu = []
    for q in questions[WARM_UP:]:
        started = time.process_time()
        answerer.ask(q)
        cpu.append(time.process_time() - started)
    cpu.sort()
    figures = {"passages": index.n_passages, "questions": len(cpu),
               "cpu_p50_ms": round(1000 * statistics.median(cpu), 2),
               "cpu_p95_ms": round(1000 * cpu[int(0.95 * (len(cpu) - 1))], 2)}
    print(figures)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args(argv)
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    if not (REALTIMEQA / "tune").exists():
        print(f"the RealTimeQA data is not at {REALTIMEQA}", file=sys.stderr)
        return 2
    run(args.queries)
    return 0


if __name__ == "__main__":
    sys.exit(main())
