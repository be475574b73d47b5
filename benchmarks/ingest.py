"""Adding articles to a large corpus (issue 12): `qabot add` of 100 articles to a corpus of
100,000 passages, recorded in the index as a new segment, against a full rebuild of the same
corpus, in one run; then the answers of both indexes compared on a sample of questions.

    python -m benchmarks.ingest                      # 100,000 passages, 100 added
    python -m benchmarks.ingest --passages 20000     # quicker

Figures (seconds, wall clock, 2 cores): ``duplicates_index`` is the Ingester learning the
corpus (to refuse duplicates), ``add_files`` checking and writing the 100 article files,
``index_update`` recording them in the index (a segment, a commit) and opening it,
``full_rebuild`` building the whole index again (``index.jobs`` processes, as `qabot index`).
The corpus is SQuAD v1.1 dev's paragraphs and recombinations of their sentences
(``benchmarks.data.scaled_corpus``); the questions are SQuAD's (the tuning half), asked with
``min_confidence`` 0 so that every question has an answer to compare.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

from benchmarks.data import SQUAD_DEV, load_squad, scaled_corpus, write_jsonl

RESULTS = Path(__file__).resolve().parent / "results"


def run(passages: int, added: int, n_questions: int, out: Path | None) -> dict:
    from bot.render import result_to_dict
    from retrieval.ingest.add import AddOptions, Ingester
    from retrieval.ingest.records import Outcome
    from retrieval.ingest.store import article_file_name
    from retrieval.service import QAService
    from retrieval.settings import load_settings

    articles, questions = load_squad(SQUAD_DEV)
    work = RESULTS / "work" / "ingest"
    shutil.rmtree(work, ignore_errors=True)
    corpus_articles = list(scaled_corpus(passages + added, articles))
    corpus = work / "corpus"
    write_jsonl(corpus_articles[:passages], corpus / "base.jsonl")
    new = write_jsonl(corpus_articles[passages:], work / "new.jsonl")
    settings = load_settings(environ={}).with_overrides(**{
        "corpus.path": str(corpus), "index.dir": str(work / "incremental"),
        "answer.min_confidence": 0.0})
    figures: dict = {"passages": passages, "added": added}

    started = time.perf_counter()
    service = QAService(settings)
    figures["base_build"] = time.perf_counter() - started

    started = time.perf_counter()
    ingester = Ingester(settings.corpus.path, settings.ingest, settings.retrieval.rules(),
                        index=service.index)
    figures["duplicates_index"] = time.perf_counter() - started
    started = time.perf_counter()
    with ingester:
        outcomes = [item if isinstance(item, Outcome) else ingester.run(item, AddOptions())
                    for item in ingester.plan([str(new)])]
    new_articles = [o.article for o in outcomes if o.status == "added" and o.article]
    figures["add_files"] = time.perf_counter() - started
    assert len(new_articles) == added, [o.message for o in outcomes if o.status != "added"]
    started = time.perf_counter()
    report = service.apply_change(new_articles,
                                  files=[article_file_name(a.id) for a in new_articles])
    figures["index_update"] = time.perf_counter() - started
    assert not report.rebuilt, report.reason

    started = time.perf_counter()
    full = QAService(settings.with_overrides(**{"index.dir": str(work / "full")}), rebuild=True)
    figures["full_rebuild"] = time.perf_counter() - started

    rng = random.Random(0)
    sample = rng.sample([q for q in questions if not q.held_out], n_questions)
    same = sum(result_to_dict(service.ask(q.text)) == result_to_dict(full.ask(q.text))
               for q in sample)
    figures.update(questions=n_questions, same_answers=same,
                   index_share=figures["index_update"] / figures["full_rebuild"],
                   add_share=(figures["add_files"] + figures["index_update"])
                   / figures["full_rebuild"],
                   command_share=(figures["duplicates_index"] + figures["add_files"]
                                  + figures["index_update"]) / figures["full_rebuild"])
    print_table(figures)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"written to {out}")
    return figures


def print_table(f: dict) -> None:
    print(f"Adding {f['added']} articles to {f['passages']:,} passages (seconds)")
    print(f"  base index build (not compared)        {f['base_build']:8.2f}")
    print(f"  full rebuild with the {f['added']} articles       {f['full_rebuild']:8.2f}")
    print(f"  index update (new segment, commit)     {f['index_update']:8.2f}"
          f"   {f['index_share']:6.1%} of a full rebuild")
    print(f"  + checking and writing the files       {f['add_files']:8.2f}"
          f"   {f['add_share']:6.1%}")
    print(f"  + learning the corpus for duplicates   {f['duplicates_index']:8.2f}"
          f"   {f['command_share']:6.1%} (the whole `qabot add`)")
    print(f"  same answers as the full rebuild       {f['same_answers']}/{f['questions']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--added", type=int, default=100)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--json", type=Path, default=RESULTS / "ingest.json")
    args = parser.parse_args(argv)
    if not SQUAD_DEV.exists():
        print(f"the SQuAD dev set is not at {SQUAD_DEV}: nothing to benchmark", file=sys.stderr)
        return 2
    run(args.passages, args.added, args.questions, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
