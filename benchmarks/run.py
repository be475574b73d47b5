"""Every benchmark in one run: answer quality on SQuAD (ours beside bm25s), abstention on
SQuAD 2.0 (ours beside bm25s's top score; quick: 2,000 questions), answers on real news
(RealTimeQA's quizzes, tune and heldout, beside bm25s), readers' questions about the bundled
articles, follow-up questions on
CoQA-CNN conversations (ours beside bm25s with the previous question), then speed and
size at scale (ours beside bm25s), each printing a table and writing JSON to
benchmarks/results/, plus a plot of latency and memory against corpus size.

    python -m benchmarks.run          # quick: all SQuAD and CoQA-CNN questions; 1k-100k passages
    python -m benchmarks.run --full   # and 1,000,000 and 10,000,000 passages (ours only at
                                      # 10M: bm25s does not fit), 1,000 timed questions
"""
from __future__ import annotations

import argparse
import sys
import time

from benchmarks import abstention, coqa, quality, readers, realtimeqa, speed
from benchmarks.data import SQUAD_DEV

QUICK_SIZES = [1_000, 10_000, 100_000]
FULL_SIZES = [1_000, 10_000, 100_000, 1_000_000, 10_000_000]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="qabot benchmarks (see benchmarks/README.md)")
    parser.add_argument("--full", action="store_true",
                        help="run every size up to 10,000,000 passages (hours)")
    args = parser.parse_args(argv)
    if not SQUAD_DEV.exists():
        print(f"the SQuAD dev set is not at {SQUAD_DEV}: nothing to benchmark", file=sys.stderr)
        return 2
    started = time.perf_counter()
    suffix = "-full" if args.full else ""
    quality.run(None, quality.RESULTS / f"quality{suffix}.json")
    abstention.run(None if args.full else 2000, abstention.RESULTS / f"abstention{suffix}.json")
    if (realtimeqa.REALTIMEQA / "tune").exists():
        realtimeqa.run(realtimeqa.SPLITS, realtimeqa.RESULTS / f"realtimeqa{suffix}.json")
    else:
        print(f"the RealTimeQA data is not at {realtimeqa.REALTIMEQA}: news quizzes not "
              "benchmarked")
    readers.run(readers.RESULTS / f"readers{suffix}.json")
    if coqa.COQA.exists():
        coqa.run(coqa.SPLITS, coqa.RESULTS / f"coqa{suffix}.json")
    else:
        print(f"the CoQA-CNN data is not at {coqa.COQA}: conversations not benchmarked")
    report = speed.run(FULL_SIZES if args.full else QUICK_SIZES, 1000 if args.full else 300,
                       speed.RESULTS / f"speed{suffix}.json")
    print(f"plot written to {speed.plot(report, speed.RESULTS / f'speed{suffix}.png')}")
    print(f"\nall benchmarks took {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
