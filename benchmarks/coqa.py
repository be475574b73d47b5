"""Follow-up questions on CoQA's CNN conversations: sentence retrieval in conversation.

The 100 CNN stories of CoQA 1.0 dev (``../shared/data/coqa-cnn/``) are one corpus; every
answerable question is asked of the whole corpus, turn by turn, and a returned sentence is
right at rank r when it comes from the story and overlaps the question's rationale span.
P@1 and MRR@10 of first turns and of follow-ups (turn >= 2), for:

* **conversation**: ``Answerer.ask(question, conversation=...)``, the bot's own code path,
  each story's questions one conversation in order (an unanswerable turn is asked and kept in
  the conversation too, but not scored);
* **standalone**: ``Answerer.ask(question)``, every question alone;
* **bm25s+prev**: bm25s over the same sentences, the previous question prepended (it never
  abstains: its answered-right@1 is its P@1);

and **switch**: each story's first question asked inside the previous story's conversation
(it opens a new topic and must not be dragged back), with conversation mode. Stories at even
positions are "tune", odd positions "heldout": tune on "tune", report "heldout".

    python -m benchmarks.coqa [--split tune|heldout|both] [--json PATH] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from benchmarks.data import REPO
from benchmarks.quality import K, Bm25Sentences, metrics
from benchmarks.report import machine, write_json
from retrieval.answerer import Answerer
from retrieval.conversation import Conversation, ConversationSettings
from retrieval.corpus import load_corpus
from retrieval.settings import load_settings

COQA = REPO.parent / "shared" / "data" / "coqa-cnn"
RESULTS = Path(__file__).resolve().parent / "results"
SPLITS = ("tune", "heldout")


@dataclass(frozen=True)
class Turn:
    id: str
    story: str
    turn: int
    question: str
    span: tuple[int, int] | None     # the rationale's character span; None when unanswerable
    split: str


def load_turns(path: Path = COQA / "questions.jsonl") -> list[Turn]:
    turns = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            q = json.loads(line)
            span = None if q["unanswerable"] else (q["span_start"], q["span_end"])
            turns.append(Turn(q["id"], q["story_id"], q["turn"], q["question"], span, q["split"]))
    return turns


def conversations(turns: Sequence[Turn]) -> list[list[Turn]]:
    """The questions grouped by story, in conversation order."""
    stories: dict[str, list[Turn]] = {}
    for t in turns:
        stories.setdefault(t.story, []).append(t)
    return [sorted(v, key=lambda t: t.turn) for v in stories.values()]


@dataclass(frozen=True)
class Outcome:
    """How one question fared: the 1-based rank of the first right sentence (None: not in
    the first ``K``) and whether the system answered (did not abstain)."""

    rank: int | None
    answered: bool = True


def rank_of_first_right(ranked: Sequence[tuple[str, int, int]], t: Turn) -> int | None:
    """1-based rank of the first (article id, start, end) overlapping ``t``'s rationale."""
    assert t.span is not None
    for rank, (article, start, end) in enumerate(ranked[:K], start=1):
        if article == t.story and start < t.span[1] and end > t.span[0]:
            return rank
    return None


def ours(answerer: Answerer, convs: list[list[Turn]], *, in_conversation: bool,
         switch: bool = False) -> dict[str, Outcome]:
    """The outcome of every answerable turn, by id. With ``switch`` only the first turns are
    scored, each asked inside the previous story's whole conversation."""
    ranks: dict[str, Outcome] = {}
    settings = answerer.conversation
    clock = 0.0
    previous = Conversation()
    for conv in convs:
        conversation = previous if switch else Conversation()
        for t in conv:
            clock += 1.0
            result = answerer.ask(t.question, top_k=K, now=clock,
                                  conversation=conversation if in_conversation else None)
            if t.span is not None and (not switch or t.turn == 1):
                ranks[t.id] = Outcome(rank_of_first_right(
                    [(a.article_id, a.start or 0, a.end or 0) for a in result.ranked], t),
                    result.answer is not None)
            if result.turn is not None:
                conversation = conversation.add(result.turn, settings)
            if switch and t.turn == 1:
                conversation = Conversation()   # the rest of the story as its own conversation
                if result.turn is not None:
                    conversation = conversation.add(result.turn, settings)
        previous = conversation
    return ranks


def bm25s_prev(bm25: Bm25Sentences, spans: list[tuple[int, int]],
               convs: list[list[Turn]]) -> dict[str, Outcome]:
    ranks: dict[str, Outcome] = {}
    for conv in convs:
        before = ""
        for t in conv:
            rows = bm25.search(f"{before} {t.question}".strip())
            if t.span is not None:
                ranks[t.id] = Outcome(rank_of_first_right(
                    [(bm25.article_ids[bm25.article[r]], *spans[r]) for r in rows], t))
            before = t.question
    return ranks


def split_metrics(outcomes: dict[str, Outcome], turns: Sequence[Turn],
                  keep: Callable[[Turn], bool]) -> dict[str, float]:
    """P@1, MRR@10 and R@10 of the turns kept, and answered-right@1 (an abstention is a
    miss)."""
    kept = [outcomes[t.id] for t in turns if t.id in outcomes and keep(t)]
    right = sum(o.answered and o.rank == 1 for o in kept)
    return metrics([o.rank for o in kept]) | {
        "answered_right_at_1": round(right / len(kept), 4) if kept else 0.0}


def build(overrides: dict[str, float] | None = None) -> tuple[Answerer, Bm25Sentences,
                                                            list[tuple[int, int]]]:
    """Our answerer over the CoQA-CNN corpus with the shipped settings (the confidence decides
    as in the bot, and a declined question still ranks its candidates; ``overrides`` replace
    conversation settings), and bm25s over its sentences."""
    settings = load_settings(environ={})
    corpus = load_corpus(COQA / "corpus.jsonl")
    articles = list(corpus.articles)
    index = settings.retrieval.index().fit(articles, fingerprint="coqa-cnn")
    conversation = replace(settings.conversation, **(overrides or {}))
    answerer = Answerer(index, articles, settings.answer, conversation=conversation)
    bm25 = Bm25Sentences(index, articles)
    spans = [(int(index.sentence_start_[i]), int(index.sentence_end_[i])) for i in bm25.ids]
    return answerer, bm25, spans


def run(splits: Sequence[str] = SPLITS, out: Path | None = None,
        overrides: dict[str, float] | None = None, quiet: bool = False) -> dict:
    started = time.perf_counter()
    answerer, bm25, spans = build(overrides)
    turns = load_turns()
    table: dict[str, dict] = {}
    for split in splits:
        convs = conversations([t for t in turns if t.split == split])
        mine = [t for c in convs for t in c]
        systems = {
            "conversation": ours(answerer, convs, in_conversation=True),
            "standalone": ours(answerer, convs, in_conversation=False),
            "bm25s+prev": bm25s_prev(bm25, spans, convs),
        }
        table[split] = {name: {"first turns": split_metrics(r, mine, lambda t: t.turn == 1),
                               "follow-ups": split_metrics(r, mine, lambda t: t.turn >= 2)}
                        for name, r in systems.items()}
        table[split]["conversation, new topic"] = {"first turns": split_metrics(
            ours(answerer, convs, in_conversation=True, switch=True), mine,
            lambda t: t.turn == 1)}
    report = {"benchmark": "CoQA 1.0 dev, CNN stories: sentence retrieval in conversation",
              "articles": len(answerer.articles), "sentences_ranked": int(bm25.ids.size),
              "conversation_settings": vars(answerer.conversation) | (overrides or {}),
              "machine": machine(), "seconds": round(time.perf_counter() - started, 1),
              "results": table}
    if not quiet:
        print_table(report)
    write_json(report, out)
    return report


def print_table(report: dict) -> None:
    print(f"\nFollow-up questions: CoQA-CNN, {report['articles']} stories, "
          f"{report['sentences_ranked']:,} answerable sentences")
    print(f"{'split':<9}{'system':<26}{'turns':<13}{'n':>5}{'right@1':>9}{'P@1':>8}"
          f"{'MRR@10':>9}")
    for split, systems in report["results"].items():
        for system, parts in systems.items():
            for part, m in parts.items():
                print(f"{split:<9}{system:<26}{part:<13}{m['questions']:>5}"
                      f"{m['answered_right_at_1']:>9.4f}{m['p_at_1']:>8.4f}"
                      f"{m['mrr_at_10']:>9.4f}")
    print("right@1: answered, with the right sentence (an abstention is a miss); "
          "bm25s never abstains")


def _override(text: str) -> tuple[str, float]:
    key, _, value = text.partition("=")
    if key not in ConversationSettings.__dataclass_fields__ or not value:
        raise argparse.ArgumentTypeError(f"expected a conversation setting KEY=VALUE, got {text!r}")
    return key, float(value) if "." in value else int(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("tune", "heldout", "both"), default="both")
    parser.add_argument("--json", type=Path, default=RESULTS / "coqa.json")
    parser.add_argument("--set", type=_override, action="append", default=[], metavar="KEY=VALUE",
                        help="replace a [conversation] setting (for tuning, on \"tune\" only)")
    args = parser.parse_args(argv)
    if not (COQA / "questions.jsonl").exists():
        print(f"the CoQA-CNN data is not at {COQA}: nothing to benchmark", file=sys.stderr)
        return 2
    run(SPLITS if args.split == "both" else (args.split,), args.json, dict(args.set))
    return 0


if __name__ == "__main__":
    sys.exit(main())
