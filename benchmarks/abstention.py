"""Abstention on SQuAD 2.0 dev: does the bot answer when the articles say, and decline when
they do not? Every one of the 1,204 paragraphs is one article; each of the 11,873 questions
(5,928 answerable, 5,945 unanswerable, written to look answerable from the same paragraph)
is asked of the whole corpus. An answer is right by the ReQA rule (from the question's own
paragraph, holding a gold answer text).

Figures, for ours (``Answerer.ask``, the shipped confidence model and ``answer.min_confidence``)
and for bm25s's top score used as a confidence:

* decision accuracy: (answered right + unanswerable declined) / all questions;
* AUROC of the confidence as a test of "the first answer is right" (over all questions);
* answered right, answered wrong, unanswerable declined, answerable declined.

bm25s's threshold is chosen in the same run: the best decision accuracy on the tuning half
of SQuAD v1.1 dev with its constructed unanswerable versions (ours is chosen on news by
``benchmarks.train_confidence``). Nothing is chosen on SQuAD 2.0.

    python -m benchmarks.abstention [--sample N] [--json PATH]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.data import REPO, SQUAD_DEV, load_squad
from benchmarks.negatives import Item, build_items, is_right
from benchmarks.quality import Bm25Sentences
from benchmarks.report import machine, write_json
from retrieval.answerer import Answerer
from retrieval.evaluation import auroc, reliability
from retrieval.settings import load_settings

SQUAD_V2 = REPO.parent / "shared" / "data" / "squad-dev-v2.0.json"
RESULTS = Path(__file__).resolve().parent / "results"


def _sample(items: list, n: int | None) -> list:
    if not n or n >= len(items):
        return items
    step = len(items) // n
    return items[::step][:n]


def bm25s_threshold(sample: int | None) -> tuple[float, int]:
    """bm25s's top-score threshold, chosen on SQuAD v1.1 dev's tuning half and its
    unanswerable versions as ours was; and how many items it was chosen on."""
    articles, questions = load_squad(SQUAD_DEV)
    tuning = _sample([q for q in questions if not q.held_out], sample)
    index = load_settings(environ={}).retrieval.index().fit(articles, fingerprint="squad")
    bm25 = Bm25Sentences(index, articles)
    items = build_items(articles, tuning, index)
    scores, right = [], []
    for item in items:
        mask = None
        if item.excluded:
            mask = (~np.isin(bm25.article, np.asarray(item.excluded))).astype(np.float32)
        best = bm25.best(item.text, mask)
        scores.append(best[1] if best else 0.0)
        right.append(best is not None and item.answerable and is_right(
            item.question, bm25.article_ids[bm25.article[best[0]]], bm25.texts[best[0]]))
    return choose_threshold_raw(np.array(scores), np.array(right),
                                np.array([i.answerable for i in items]),
                                np.array([i.weight for i in items])), len(items)


def decision_accuracy(scores: np.ndarray, right: np.ndarray, answerable: np.ndarray,
                      weight: np.ndarray, threshold: float) -> float:
    """(answered right + unanswerable declined) / all, by weight; answered when the score
    reaches ``threshold``."""
    answered = scores >= threshold
    good = np.where(answerable, answered & right, ~answered)
    return float((good * weight).sum() / weight.sum())


def choose_threshold_raw(scores: np.ndarray, right: np.ndarray, answerable: np.ndarray,
                         weight: np.ndarray) -> float:
    """The score threshold with the best decision accuracy, among the scores' percentiles
    (bm25s's score is not a probability)."""
    grid = np.unique(np.percentile(scores, np.arange(0, 100.5, 0.5)))
    accuracy = [decision_accuracy(scores, right, answerable, weight, t) for t in grid]
    return float(grid[int(np.argmax(accuracy))])


def figures(confidence: np.ndarray, answered: np.ndarray, right: np.ndarray,
            answerable: np.ndarray) -> dict:
    n = right.size
    return {
        "decision_accuracy": round(float(((answered & right).sum()
                                          + (~answered & ~answerable).sum()) / n), 4),
        "auroc": round(auroc(confidence, right) or 0.0, 4),
        "answered_right": int((answered & right).sum()),
        "answered_wrong": int((answered & ~right).sum()),
        "unanswerable_declined": int((~answered & ~answerable).sum()),
        "answerable_declined": int((~answered & answerable).sum()),
    }


def run(sample: int | None = None, out: Path | None = None) -> dict:
    started = time.perf_counter()
    articles, questions = load_squad(SQUAD_V2)
    questions = _sample(questions, sample)
    settings = load_settings(environ={})
    index = settings.retrieval.index().fit(articles, fingerprint="squad-v2")
    answerer = Answerer(index, articles, settings.answer)
    answerable = np.array([bool(q.answers) for q in questions])
    ours_conf, ours_answered, ours_right = [], [], []
    for q in questions:
        result = answerer.ask(q.text, top_k=1)
        best = result.ranked[0] if result.ranked else None
        ours_conf.append(best.confidence if best else 0.0)
        ours_answered.append(result.answer is not None)
        ours_right.append(best is not None and is_right(q, best.article_id, best.text))
    ours_right_arr = np.array(ours_right) & answerable
    ours = figures(np.array(ours_conf), np.array(ours_answered), ours_right_arr, answerable)
    ours["min_confidence"] = settings.answer.min_confidence
    threshold, chosen_on = bm25s_threshold(sample)
    bm25 = Bm25Sentences(index, articles)
    b_score, b_right = [], []
    for q in questions:
        best = bm25.best(q.text)
        b_score.append(best[1] if best else 0.0)
        b_right.append(best is not None and is_right(
            q, bm25.article_ids[bm25.article[best[0]]], bm25.texts[best[0]]))
    b_score_arr = np.array(b_score)
    theirs = figures(b_score_arr, b_score_arr >= threshold, np.array(b_right) & answerable,
                     answerable)
    theirs["threshold"] = round(threshold, 4)
    theirs["threshold_chosen_on_items"] = chosen_on
    calibration = [{"low": b.low, "high": b.high, "answers": b.count,
                    "predicted": round(b.mean_confidence, 4), "observed": round(b.observed, 4)}
                   for b in reliability(np.array(ours_conf), ours_right_arr)]
    report = {
        "benchmark": "squad-dev-v2.0 abstention (every paragraph an article)",
        "articles": len(articles), "questions": len(questions),
        "answerable": int(answerable.sum()), "unanswerable": int((~answerable).sum()),
        "sample": sample, "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "results": {"ours": ours, "bm25s top score": theirs},
        "never answering": round(float((~answerable).mean()), 4),
        "calibration": calibration,
    }
    print_table(report)
    write_json(report, out)
    return report


def print_table(report: dict) -> None:
    print(f"\nAbstention: SQuAD 2.0 dev, {report['articles']:,} paragraphs as articles, "
          f"{report['questions']:,} questions ({report['answerable']:,} answerable, "
          f"{report['unanswerable']:,} not)")
    print(f"{'system':<18}{'decision acc':>13}{'AUROC':>8}{'right':>8}{'wrong':>8}"
          f"{'unans. declined':>17}{'ans. declined':>15}")
    for name, m in report["results"].items():
        print(f"{name:<18}{m['decision_accuracy']:>13.4f}{m['auroc']:>8.4f}"
              f"{m['answered_right']:>8}{m['answered_wrong']:>8}"
              f"{m['unanswerable_declined']:>17}{m['answerable_declined']:>15}")
    print(f"(never answering: {report['never answering']:.4f}; ours answers at confidence >= "
          f"{report['results']['ours']['min_confidence']}, bm25s at top score >= "
          f"{report['results']['bm25s top score']['threshold']})")
    print("\nours, calibration of the first answer's confidence:")
    print(f"  {'confidence':<12}{'answers':>8}{'predicted':>11}{'observed':>10}")
    for b in report["calibration"]:
        print(f"  {b['low']:.1f}-{b['high']:.1f}{'':<5}{b['answers']:>8}{b['predicted']:>11.3f}"
              f"{b['observed']:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=None,
                        help="ask only N questions, evenly spaced (and choose bm25s's "
                             "threshold on N tuning questions)")
    parser.add_argument("--json", type=Path, default=RESULTS / "abstention.json")
    args = parser.parse_args(argv)
    for path in (SQUAD_V2, SQUAD_DEV):
        if not path.exists():
            print(f"{path.name} not found at {path}", file=sys.stderr)
            return 2
    run(args.sample, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
