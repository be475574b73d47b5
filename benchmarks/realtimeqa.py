"""Answers on real news: RealTimeQA's weekly news quizzes over the news articles a web search
returned for them (``../shared/data/realtimeqa/``, read its README for the data and the rule).

Each question is asked alone, as plain text, of an index of its split's ``corpus.jsonl``, with
the default settings (the shipped confidence and ``answer.min_confidence``), ten candidates.
A sentence **contains the answer** when the normalised answer occurs in the normalised
sentence as whole words (``benchmarks.data.holds_answer``). Over the answerable questions:

* **P@1**: the first candidate (the answer, or the first alternative when declined) holds it;
* **hit@10**: one of the ten does;
* **answered right / answered wrong / declined**, shares of the answerable questions, and
  **wrong share** = answered wrong / answered;
* **AUROC** of the first candidate's confidence as a test of "it holds the answer";

over the questions that are not answerable, the share **declined**. Beside ours in the same
run: bm25s (Snowball stemmer, English stop words) over exactly our candidate sentences, P@1
and hit@10 by the same rule.

Tune on ``tune``; ``heldout`` is for reporting only (never choose anything on it).

    python -m benchmarks.realtimeqa [--split tune|heldout|both] [--json PATH] [--sample N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.data import REALTIMEQA, holds_answer as contains, normal_answer
from benchmarks.quality import Bm25Sentences
from benchmarks.report import machine, write_json
from retrieval.answerer import Answerer, Result
from retrieval.corpus import Article, load_corpus
from retrieval.evaluation import auroc
from retrieval.index import TfidfIndex
from retrieval.settings import Settings, load_settings

RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = ("tune", "heldout")
K = 10

@dataclass(frozen=True)
class NewsQuestion:
    id: str
    question: str
    answer: str          # normalised (``benchmarks.data.normal_answer``)
    answerable: bool
    date: str            # the quiz's date (not given to the bot: the rule asks plain text)


def load_split(split: str, directory: Path = REALTIMEQA) -> tuple[list[Article],
                                                                   list[NewsQuestion]]:
    """A split's articles (through qabot's own corpus reader) and its questions."""
    where = directory / split
    articles = list(load_corpus(where / "corpus.jsonl").articles)
    questions = []
    with (where / "questions.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            q = json.loads(line)
            questions.append(NewsQuestion(q["id"], q["question"], normal_answer(q["answer"]),
                                          bool(q["answerable"]), q.get("question_date", "")))
    return articles, questions


def build(articles: list[Article], name: str, settings: Settings | None = None
          ) -> tuple[TfidfIndex, Answerer]:
    """Our index of ``articles`` and an answerer with ``settings`` (default: the defaults)."""
    settings = settings or load_settings(environ={})
    index = settings.retrieval.index().fit(articles, fingerprint=f"realtimeqa-{name}")
    return index, Answerer(index, articles, settings.answer)


def figures(results: Sequence[Result], questions: Sequence[NewsQuestion],
            bm25_ranked: Sequence[Sequence[str]] | None = None) -> dict:
    """The benchmark's figures for ``results`` (one a question), and bm25s's when given (the
    texts it ranked for each question, best first)."""
    answerable = [i for i, q in enumerate(questions) if q.answerable]
    others = [i for i, q in enumerate(questions) if not q.answerable]
    first, hit, answered, right, confidence = [], [], [], [], []
    for i in answerable:
        r, q = results[i], questions[i]
        ranked = r.ranked[:K]
        holds = [contains(q.answer, a.text) for a in ranked]
        first.append(bool(holds) and holds[0])
        hit.append(any(holds))
        answered.append(r.answer is not None)
        right.append(r.answer is not None and holds[0])
        confidence.append(ranked[0].confidence if ranked else 0.0)
    n = max(len(answerable), 1)
    n_answered = sum(answered)
    wrong = n_answered - sum(right)
    ours = {
        "answerable": len(answerable),
        "p_at_1": round(sum(first) / n, 4),
        "hit_at_10": round(sum(hit) / n, 4),
        "answered_right": round(sum(right) / n, 4),
        "answered_wrong": round(wrong / n, 4),
        "declined": round(1 - n_answered / n, 4),
        "wrong_share": round(wrong / n_answered, 4) if n_answered else 0.0,
        # None when every first candidate is right, or every one wrong (a small sample)
        "auroc": (None if (a := auroc(np.array(confidence), np.array(first))) is None
                  else round(a, 4)),
        "not_answerable": len(others),
        "not_answerable_declined": round(
            sum(results[i].answer is None for i in others) / max(len(others), 1), 4),
    }
    out = {"ours": ours}
    if bm25_ranked is not None:
        b_first = [bool(bm25_ranked[i]) and contains(questions[i].answer, bm25_ranked[i][0])
                   for i in answerable]
        b_hit = [any(contains(questions[i].answer, t) for t in bm25_ranked[i][:K])
                 for i in answerable]
        out["bm25s"] = {"p_at_1": round(sum(b_first) / n, 4),
                        "hit_at_10": round(sum(b_hit) / n, 4)}
    return out


def run_split(split: str, sample: int | None = None, settings: Settings | None = None,
              with_bm25s: bool = True) -> dict:
    """Ask every question of ``split`` (every n-th with ``sample``) and return its figures."""
    articles, questions = load_split(split)
    if sample:
        questions = questions[::max(1, len(questions) // sample)][:sample]
    started = time.perf_counter()
    index, answerer = build(articles, split, settings)
    built = time.perf_counter() - started
    started = time.perf_counter()
    results = [answerer.ask(q.question, top_k=K) for q in questions]
    asked = time.perf_counter() - started
    bm25_ranked = None
    if with_bm25s:
        bm25 = Bm25Sentences(index, articles)
        bm25_ranked = [[bm25.texts[r] for r in bm25.search(q.question, K)] for q in questions]
    report = figures(results, questions, bm25_ranked)
    report.update(split=split, articles=len(articles), questions=len(questions),
                  seconds={"build": round(built, 1), "questions": round(asked, 1)})
    return report


def print_table(reports: Sequence[dict]) -> None:
    print("\nAnswers on real news: RealTimeQA (answerable questions; P@1 and hit@10 of bm25s "
          "over the same sentences in brackets)")
    header = (f"{'split':<9}{'n':>5}{'P@1':>14}{'hit@10':>15}{'right':>8}{'wrong':>8}"
              f"{'declined':>10}{'wrong share':>13}{'AUROC':>8}{'n/a declined':>14}")
    print(header)
    for r in reports:
        o, b = r["ours"], r.get("bm25s", {})
        print(f"{r['split']:<9}{o['answerable']:>5}"
              f"{o['p_at_1']:>7.3f} ({b.get('p_at_1', float('nan')):.3f})"
              f"{o['hit_at_10']:>8.3f} ({b.get('hit_at_10', float('nan')):.3f})"
              f"{o['answered_right']:>8.3f}{o['answered_wrong']:>8.3f}{o['declined']:>10.3f}"
              f"{o['wrong_share']:>13.3f}{o['auroc'] if o['auroc'] is not None else float('nan'):>8.3f}"
              f"{o['not_answerable_declined']:>8.3f} of {o['not_answerable']}")


def run(splits: Sequence[str] = SPLITS, out: Path | None = None,
        sample: int | None = None) -> dict:
    reports = [run_split(s, sample) for s in splits]
    print_table(reports)
    report = {"benchmark": "realtimeqa news quizzes (see benchmarks/realtimeqa.py)",
              "machine": machine(), "sample": sample, "splits": reports}
    write_json(report, out)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=(*SPLITS, "both"), default="both")
    parser.add_argument("--sample", type=int, default=None,
                        help="ask only N questions of each split, evenly spaced")
    parser.add_argument("--json", type=Path, default=RESULTS / "realtimeqa.json")
    args = parser.parse_args(argv)
    if not (REALTIMEQA / "tune").exists():
        print(f"the RealTimeQA data is not at {REALTIMEQA}", file=sys.stderr)
        return 2
    run(SPLITS if args.split == "both" else (args.split,), args.json, args.sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
