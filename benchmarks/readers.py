"""Questions in readers' words about the bundled articles (``benchmarks/questions/``): what a
reader gets, both sides. ``bundled-report.json`` was written apart from the tuning set and is
never tuned on; ``bundled-tune.json`` is not fitted on either, but ``answer.min_confidence``
is chosen with it among the news sets (``benchmarks.train_confidence``), so it is shown
beside the report set for comparison only. Both ask about the same five articles, and 25 of
the report set's 32 expected sentences are expected by some question of the tuning set too
(other words, the same facts): the report set is independent in its questions, not in its
sentences.

For the answerable questions: answered right (the expected sentence, answered), answered
wrong (another sentence, answered), declined, and declined with the right sentence first;
for the others (related questions the articles do not answer, and off-topic ones): declined.

    python -m benchmarks.readers [--json PATH]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.data import REPO
from benchmarks.report import write_json
from retrieval.answerer import Answerer
from retrieval.corpus import load_corpus
from retrieval.evaluation import EvalReport, evaluate, load_eval_set
from retrieval.settings import load_settings

QUESTIONS = REPO / "benchmarks" / "questions"
RESULTS = Path(__file__).resolve().parent / "results"
SETS = {"bundled-report": QUESTIONS / "bundled-report.json",
        "bundled-tune (threshold)": QUESTIONS / "bundled-tune.json"}


def outcome_figures(report: EvalReport) -> dict[str, int]:
    """Counts of what readers got: right, wrong, declined (and declined with the right
    sentence first) of the answerable questions; the others declined."""
    figures = {"answerable": 0, "right": 0, "wrong": 0, "declined": 0,
               "declined_right_first": 0, "not_answerable": 0, "not_answerable_declined": 0}
    for o in report.outcomes:
        answered = o.result.answer is not None
        if o.question.expected is None:
            figures["not_answerable"] += 1
            figures["not_answerable_declined"] += not answered
        else:
            figures["answerable"] += 1
            figures["right" if answered and o.rank == 1 else
                    "wrong" if answered else "declined"] += 1
            figures["declined_right_first"] += (not answered) and o.rank == 1
    return figures


def run(out: Path | None = None, corpus: Path = REPO / "corpus") -> dict:
    settings = load_settings(environ={})
    articles = list(load_corpus(corpus).articles)
    index = settings.retrieval.index().fit(articles)
    answerer = Answerer(index, articles, settings.answer)
    report = {}
    print(f"\nQuestions in readers' words about the {len(articles)} bundled articles")
    print(f"{'set':<26}{'answerable':>11}{'right':>7}{'wrong':>7}{'declined':>10}"
          f"{'(right 1st)':>12}{'others declined':>17}")
    for name, path in SETS.items():
        result = evaluate(load_eval_set(path), lambda q, **kw: answerer.ask(q, top_k=10, **kw))
        f = report[name] = outcome_figures(result)
        print(f"{name:<26}{f['answerable']:>11}{f['right']:>7}{f['wrong']:>7}{f['declined']:>10}"
              f"{f['declined_right_first']:>12}"
              f"{f['not_answerable_declined']:>10} of {f['not_answerable']}")
    write_json({"benchmark": "readers' questions about the bundled articles", "sets": report},
               out)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=RESULTS / "readers.json")
    args = parser.parse_args(argv)
    run(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
