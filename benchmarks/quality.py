"""Answer quality on SQuAD v1.1 dev, ReQA style: every paragraph is an article, every
question is asked of the whole corpus, and a returned sentence is right when it comes from
the question's own paragraph and contains one of its gold answer texts.

Reports P@1 and MRR@10 of our answerer (``Answerer.ask``, the bot's own code path) and of
bm25s (Snowball stemming, English stop words) ranking the same sentences, on the held-out
half of the questions (never looked at while tuning), on the tuning half and on all.

    python -m benchmarks.quality [--sample N] [--json PATH]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.data import SQUAD_DEV, Question, load_squad, normal
from benchmarks.report import machine, write_json
from retrieval.answerer import Answerer
from retrieval.corpus import Article
from retrieval.index import TfidfIndex
from retrieval.settings import load_settings

RESULTS = Path(__file__).resolve().parent / "results"
K = 10


def build_ours(articles: list[Article]) -> tuple[TfidfIndex, Answerer]:
    """Our index and answerer with the default configuration, min_confidence 0 (rank, never
    abstain: an abstention still lists the candidates, but ranking needs all of them)."""
    settings = load_settings(environ={})
    index = settings.retrieval.index().fit(articles, fingerprint="squad-dev")
    answer_settings = replace(settings.answer, min_confidence=0.0)
    return index, Answerer(index, articles, answer_settings)


def rank_of_first_right(ranked: list[tuple[str, str]], q: Question) -> int | None:
    """1-based rank of the first (article id, sentence text) that answers ``q``."""
    for rank, (article_id, text) in enumerate(ranked[:K], start=1):
        if article_id == q.paragraph_id:
            sentence = normal(text)
            if any(a in sentence for a in q.answers):
                return rank
    return None


def ours_ranks(answerer: Answerer, questions: list[Question]) -> list[int | None]:
    ranks = []
    for q in questions:
        result = answerer.ask(q.text, top_k=K)
        ranks.append(rank_of_first_right([(a.article_id, a.text) for a in result.ranked], q))
    return ranks


class Bm25Sentences:
    """bm25s over the answerable sentences of our index (the same candidates we rank)."""

    def __init__(self, index: TfidfIndex, articles: list[Article]) -> None:
        import bm25s
        import Stemmer
        self._bm25s = bm25s
        self.stemmer = Stemmer.Stemmer("english")
        self.ids = np.flatnonzero(index.sentence_answerable_)
        self.article = index.sentence_article_[self.ids]
        starts, ends = index.sentence_start_[self.ids], index.sentence_end_[self.ids]
        self.texts = [articles[a].text[s:e] for a, s, e in zip(self.article, starts, ends)]
        self.article_ids = [a.id for a in articles]
        tokens = bm25s.tokenize(self.texts, stopwords="en", stemmer=self.stemmer,
                                show_progress=False)
        self.retriever = bm25s.BM25()
        self.retriever.index(tokens, show_progress=False)

    def search(self, question: str, k: int = K) -> list[int]:
        """Rows (into ``self.texts``) of the ``k`` best sentences, best first."""
        tokens = self._bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer,
                                      return_ids=False, show_progress=False)
        if not tokens[0]:
            return []
        docs, scores = self.retriever.retrieve(tokens, k=min(k, len(self.texts)),
                                               show_progress=False, n_threads=1)
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]


    def best(self, question: str, weight_mask: np.ndarray | None = None) -> tuple[int, float] | None:
        """The row and bm25s score of the best sentence (among those ``weight_mask`` keeps),
        or None when no sentence holds a word of the question."""
        tokens = self._bm25s.tokenize([question], stopwords="en", stemmer=self.stemmer,
                                      return_ids=False, show_progress=False)
        if not tokens[0]:
            return None
        docs, scores = self.retriever.retrieve(tokens, k=1, show_progress=False, n_threads=1,
                                               weight_mask=weight_mask)
        return (int(docs[0][0]), float(scores[0][0])) if scores[0][0] > 0 else None


def bm25s_ranks(bm25: Bm25Sentences, questions: list[Question]) -> list[int | None]:
    ranks = []
    for q in questions:
        rows = bm25.search(q.text)
        ranks.append(rank_of_first_right(
            [(bm25.article_ids[bm25.article[r]], bm25.texts[r]) for r in rows], q))
    return ranks


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {"questions": n,
            "p_at_1": round(sum(r == 1 for r in ranks) / n, 4) if n else 0.0,
            "mrr_at_10": round(sum(1.0 / r for r in ranks if r) / n, 4) if n else 0.0,
            "recall_at_10": round(sum(r is not None for r in ranks) / n, 4) if n else 0.0}


def run(sample: int | None = None, out: Path | None = None) -> dict:
    articles, questions = load_squad(SQUAD_DEV)
    if sample:
        step = max(1, len(questions) // sample)
        questions = questions[::step][:sample]
    t0 = time.perf_counter()
    index, answerer = build_ours(articles)
    t_ours_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    bm25 = Bm25Sentences(index, articles)
    t_bm25_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours = ours_ranks(answerer, questions)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = bm25s_ranks(bm25, questions)
    t_bm25 = time.perf_counter() - t0
    halves = {"held-out": [q.held_out for q in questions],
              "tuning": [not q.held_out for q in questions],
              "all": [True] * len(questions)}
    table = {}
    for name, mask in halves.items():
        table[name] = {
            "ours": metrics([r for r, m in zip(ours, mask) if m]),
            "bm25s": metrics([r for r, m in zip(theirs, mask) if m]),
        }
    report = {
        "benchmark": "squad-dev-v1.1 sentence retrieval (ReQA style)",
        "articles": len(articles), "sentences_ranked": int(bm25.ids.size),
        "questions": len(questions), "sample": sample,
        "machine": machine(),
        "seconds": {"ours_build": round(t_ours_build, 2), "ours_questions": round(t_ours, 2),
                    "bm25s_build": round(t_bm25_build, 2), "bm25s_questions": round(t_bm25, 2)},
        "results": table,
    }
    print_table(report)
    write_json(report, out)
    return report


def print_table(report: dict) -> None:
    print(f"\nAnswer quality: SQuAD v1.1 dev, {report['articles']:,} paragraphs as articles, "
          f"{report['sentences_ranked']:,} answerable sentences, "
          f"{report['questions']:,} questions")
    print(f"{'questions':<22}{'system':<10}{'P@1':>8}{'MRR@10':>9}{'R@10':>8}")
    for half, systems in report["results"].items():
        for system, m in systems.items():
            label = f"{half} ({m['questions']:,})"
            print(f"{label:<22}{system:<10}{m['p_at_1']:>8.4f}{m['mrr_at_10']:>9.4f}"
                  f"{m['recall_at_10']:>8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=None,
                        help="ask only N questions, evenly spaced (default: all)")
    parser.add_argument("--json", type=Path, default=RESULTS / "quality.json")
    args = parser.parse_args(argv)
    if not SQUAD_DEV.exists():
        print(f"SQuAD dev set not found at {SQUAD_DEV}", file=sys.stderr)
        return 2
    run(args.sample, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
