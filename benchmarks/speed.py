"""Speed and size at scale, ours beside bm25s on the same corpus in the same run.

For each corpus size: index build time and peak memory, index size on disk, load time, the
serving process's own peak memory (RSS), single-threaded queries per second and p50/p95
latency of one question end to end, and a cold ``qabot ask`` (a whole process: start-up,
opening the index, one answer). Every build and every serving run is its own child process,
so each peak RSS is its own.

* ours: ``retrieval.index.build`` over the streamed corpus, in ``index.jobs`` processes (one
  per CPU), the path of ``qabot index`` and of the service; serving: ``TfidfIndex.load``
  (memory-mapped segments and article store: the corpus is not read) and
  ``Answerer.ask(question, top_k=10)``, the bot's own code path.
* bm25s: the same passages split into sentences by the same segmenter (2 processes), then
  ``bm25s.tokenize`` (Snowball stemmer, English stop words) and ``BM25.index`` + ``save``;
  serving: ``BM25.load``, then tokenize the question, ``retrieve(k=10)`` and cut the 10
  texts out of their articles (the corpus is loaded for that: "corpus s"). Two units: over
  sentences ("bm25s", the unit we answer with) and over the same passages as ours
  ("bm25s-p", the unit our first stage ranks). Each is served with bm25s's numpy backend
  and, when numba is installed (the ``bench`` extra), its numba backend ("-nb"), its fastest
  single-query configuration.
* paired: one process loads ours and bm25s-p-nb and asks each question of both in turn, so
  the ratio of their latencies is measured under the same load ("paired" rows).

Questions are timed one at a time after 20 warm-up questions; a system still answering after
``SERVE_BUDGET_S`` stops there once ``MIN_TIMED`` questions are timed ("timed" in the table).
bm25s is not built above ``BM25S_MAX`` passages (it does not fit in memory at 10M).

    python -m benchmarks.speed --sizes 1000 10000 [--queries 500]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
WORK = RESULTS / "work"
SERVE_BUDGET_S = 120.0   # timed questions stop after this long ...
MIN_TIMED = 100          # ... once at least this many are timed
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "NUMBA_NUM_THREADS": "1"}


def _peak_rss_mib() -> float:
    """This process's peak RSS. Read from VmHWM: ``getrusage``'s ru_maxrss of a child
    process starts from its parent's peak at fork, which would hide a smaller one."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _dir_size_mib(path: Path, pattern: str = "*") -> float:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file()) / 2**20


# ------------------------------------------------------------------------------ children
def _our_settings():
    from retrieval.settings import load_settings
    return load_settings(environ={})


def child_build_ours(corpus: Path, out: Path) -> dict:
    from retrieval.corpus import CorpusStream
    from retrieval.index import TfidfIndex, build, default_jobs
    t0 = time.perf_counter()
    build(_our_settings().retrieval.index(), out, CorpusStream(corpus), jobs=default_jobs())
    build_s = time.perf_counter() - t0
    index = TfidfIndex.load(out)
    return {"build_s": build_s, "passages": index.n_passages,
            "sentences": index.n_sentences, "terms": len(index.vocabulary_)}


def _segment_chunk(work):
    from retrieval.text import SegmentationRules, segment_article
    texts, offset, unit = work
    rules, rows = SegmentationRules(), []
    for i, (text, title) in enumerate(texts):
        for passage in segment_article(text, title, rules):
            if unit == "passage":
                rows.append((offset + i, passage.span.start, passage.span.end))
            else:
                rows.extend((offset + i, s.span.start, s.span.end)
                            for s in passage.sentences if s.answerable)
    return rows


def child_build_bm25s(corpus: Path, out: Path, unit: str) -> dict:
    import bm25s
    import Stemmer
    from retrieval.corpus import load_corpus
    c = load_corpus(corpus)
    t0 = time.perf_counter()
    arts = c.articles
    size = max(1, min(20_000, len(arts) // 8 or 1))
    work = [([(a.text, a.title) for a in arts[lo:lo + size]], lo, unit)
            for lo in range(0, len(arts), size)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = [r for part in pool.map(_segment_chunk, work) for r in part]
    spans = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    texts = [arts[a].text[s:e] for a, s, e in spans]
    tokens = bm25s.tokenize(texts, stopwords="en", stemmer=Stemmer.Stemmer("english"),
                            show_progress=False)
    del texts
    retriever = bm25s.BM25()
    retriever.index(tokens, show_progress=False)
    retriever.save(out, show_progress=False)
    np.save(out / "spans.npy", spans)
    return {"build_s": time.perf_counter() - t0, "sentences": int(spans.shape[0]),
            "terms": len(tokens.vocab)}


def _ours(index_dir: Path):
    """Load our index and answerer: (seconds to load, ask)."""
    from dataclasses import replace

    from retrieval.answerer import Answerer
    from retrieval.index import TfidfIndex
    t0 = time.perf_counter()
    index = TfidfIndex.load(index_dir)
    answerer = Answerer(index, settings=replace(_our_settings().answer, min_confidence=0.0))
    load = time.perf_counter() - t0

    def ask(q: str) -> int:
        r = answerer.ask(q, top_k=10)
        return len(r.alternatives) + (r.answer is not None)
    return load, ask


def _bm25s(index_dir: Path, backend: str, articles):
    """Load a bm25s index: (seconds to load, ask)."""
    import bm25s
    import Stemmer
    t0 = time.perf_counter()
    retriever = bm25s.BM25.load(index_dir, mmap=False, show_progress=False,
                                override_params={"backend": backend})
    assert retriever.backend == backend
    spans = np.load(index_dir / "spans.npy")
    load = time.perf_counter() - t0
    stemmer = Stemmer.Stemmer("english")

    def ask(q: str) -> int:
        tokens = bm25s.tokenize([q], stopwords="en", stemmer=stemmer, return_ids=False,
                                show_progress=False)
        if not tokens[0]:
            return 0
        docs, _ = retriever.retrieve(tokens, k=10, show_progress=False, n_threads=1)
        answers = [articles[spans[d, 0]].text[spans[d, 1]:spans[d, 2]] for d in docs[0]]
        return len(answers)
    return load, ask


def _time(ask, questions: list[str]) -> list[float]:
    for q in questions[:20]:      # warm-up: caches, lazy imports
        ask(q)
    latencies = []
    started = time.perf_counter()
    for q in questions:
        t = time.perf_counter()
        ask(q)
        latencies.append((time.perf_counter() - t) * 1000.0)
        # A slow system stops early, once it has answered enough questions to be measured.
        if len(latencies) >= MIN_TIMED and time.perf_counter() - started > SERVE_BUDGET_S:
            break
    return latencies


def _figures(latencies: list[float]) -> dict:
    ordered = sorted(latencies)
    return {"queries": len(ordered), "qps": 1000.0 * len(ordered) / sum(ordered),
            "p50_ms": statistics.median(ordered),
            "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
            "mean_ms": statistics.fmean(ordered)}


def _bm25s_backend(system: str) -> str:
    return "numba" if system.endswith("-nb") else "numpy"


def child_serve(system: str, corpus: Path, index_dir: Path, questions: list[str]) -> dict:
    # Single-threaded: the environment sets OMP/BLAS/numba threads to 1 as well.
    corpus_load = 0.0
    if system == "ours":   # the corpus is not read: the index holds the articles
        load, ask = _ours(index_dir)
    else:
        from retrieval.corpus import load_corpus
        t0 = time.perf_counter()
        articles = load_corpus(corpus).articles
        corpus_load = time.perf_counter() - t0
        load, ask = _bm25s(index_dir, _bm25s_backend(system), articles)
    return {"load_s": load, "corpus_load_s": corpus_load, **_figures(_time(ask, questions))}


def child_paired(corpus: Path, ours_dir: Path, bm25s_dir: Path, system: str,
                 questions: list[str]) -> dict:
    """Ours and a bm25s in one process, each question asked of both in turn."""
    from retrieval.corpus import load_corpus
    _, ours = _ours(ours_dir)
    _, theirs = _bm25s(bm25s_dir, _bm25s_backend(system), load_corpus(corpus).articles)
    for q in questions[:20]:
        ours(q)
        theirs(q)
    mine, other = [], []
    started = time.perf_counter()
    for q in questions:
        for ask, into in ((ours, mine), (theirs, other)):
            t = time.perf_counter()
            ask(q)
            into.append((time.perf_counter() - t) * 1000.0)
        if len(mine) >= MIN_TIMED and time.perf_counter() - started > SERVE_BUDGET_S:
            break
    a, b = _figures(mine), _figures(other)
    return {"ours": a, "bm25s": b, "p50_ratio": a["p50_ms"] / b["p50_ms"],
            "qps_ratio": a["qps"] / b["qps"]}


def cold_ask(corpus: Path, index_dir: Path, question: str) -> dict:
    """One whole ``qabot ask`` process: its wall time and its own peak RSS."""
    env = {**os.environ, **SINGLE_THREAD}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "bot", "ask", question, "--corpus",
                                str(corpus), "--index-dir", str(index_dir), "--json"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else b""
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"qabot ask failed: {out[-500:]!r}")
    return {"cold_ask_s": wall, "cold_ask_rss_mib": usage.ru_maxrss / 1024.0}


def _child_main(argv: list[str]) -> int:
    kind, system, corpus, out = argv[0], argv[1], Path(argv[2]), Path(argv[3])
    if kind == "build":
        result = (child_build_ours(corpus, out) if system == "ours"
                  else child_build_bm25s(corpus, out, "passage" if "-p" in system
                                         else "sentence"))
    elif kind == "paired":
        questions = json.loads(Path(argv[5]).read_text(encoding="utf-8"))
        result = child_paired(corpus, out, Path(argv[4]), system, questions)
    else:
        questions = json.loads(Path(argv[4]).read_text(encoding="utf-8"))
        result = child_serve(system, corpus, out, questions)
    result["peak_rss_mib"] = _peak_rss_mib()
    # The largest worker process (parallel analysis), beside the parent's own peak.
    result["worker_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print("RESULT " + json.dumps(result))
    return 0


def _run_child(*args: str) -> dict:
    env = {**os.environ, **SINGLE_THREAD}
    done = subprocess.run([sys.executable, "-m", "benchmarks.speed", "--child", *args],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {args[:2]} failed:\n{done.stderr[-3000:]}")
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


# -------------------------------------------------------------------------------- driver
BM25S_MAX = 1_000_000    # bm25s is not built above this many passages (10M does not fit)


def run(sizes: list[int], n_queries: int, out: Path | None, keep: bool = False) -> dict:
    from benchmarks.data import load_squad, scaled_corpus, write_jsonl
    from benchmarks.report import machine, write_json
    articles, questions = load_squad()
    step = max(1, len(questions) // n_queries)
    asked = [q.text for q in questions[::step][:n_queries]]
    WORK.mkdir(parents=True, exist_ok=True)
    qfile = WORK / "questions.json"
    qfile.write_text(json.dumps(asked), encoding="utf-8")
    rows, paired = [], []
    try:
        import numba  # noqa: F401
    except ImportError:
        numba_ok = False
        print("numba is not installed: bm25s is measured with its numpy backend only")
    else:
        numba_ok = True
    for n in sizes:
        corpus = WORK / f"corpus-{n}.jsonl"
        t0 = time.perf_counter()
        write_jsonl(scaled_corpus(n, articles), corpus)  # streamed: the parent stays small
        print(f"[{n:,} passages] corpus written in {time.perf_counter() - t0:.1f}s "
              f"({corpus.stat().st_size / 2**20:.0f} MiB)", flush=True)
        systems = [("ours", ["ours"])]
        if n <= BM25S_MAX:
            systems += [(unit, [unit] + ([f"{unit}-nb"] if numba_ok else []))
                        for unit in ("bm25s", "bm25s-p")]
        dirs = {}
        for system, servings in systems:
            index_dir = WORK / f"index-{system}-{n}"
            shutil.rmtree(index_dir, ignore_errors=True)
            built = _run_child("build", system, str(corpus), str(index_dir))
            dirs[system] = index_dir
            extra = cold_ask(corpus, index_dir, asked[0]) if system == "ours" else {}
            for serving in servings:
                served = _run_child("serve", serving, str(corpus), str(index_dir), str(qfile))
                row = {"passages": n, "system": serving,
                       "build_s": built["build_s"], "index_mib": _dir_size_mib(index_dir),
                       # ours keeps the articles (text and metadata) in its index; bm25s
                       # needs the corpus beside its index
                       "store_mib": _dir_size_mib(index_dir, "article_*")
                       if system == "ours" else 0.0,
                       "build_peak_rss_mib": built["peak_rss_mib"],
                       "build_worker_peak_rss_mib": built["worker_peak_rss_mib"],
                       "sentences": built["sentences"], "terms": built["terms"],
                       **{k: v for k, v in served.items() if "peak_rss" not in k},
                       "serve_peak_rss_mib": served["peak_rss_mib"], **extra}
                rows.append(row)
                print(_format_row(row), flush=True)
        if "bm25s-p" in dirs:
            system = "bm25s-p-nb" if numba_ok else "bm25s-p"
            pair = _run_child("paired", system, str(corpus), str(dirs["ours"]),
                              str(dirs["bm25s-p"]), str(qfile))
            pair = {"passages": n, "against": system, **pair}
            paired.append(pair)
            print(_format_pair(pair), flush=True)
        if not keep:
            for index_dir in dirs.values():
                shutil.rmtree(index_dir, ignore_errors=True)
            corpus.unlink()
    report = {"benchmark": "speed and size at scale", "machine": machine(),
              "queries": len(asked), "sizes": sizes, "rows": rows, "paired": paired,
              "corpus": "SQuAD v1.1 dev paragraphs, then paragraphs of 3-8 of their sentences "
                        "recombined at random (seed 0)"}
    print_table(report)
    write_json(report, out)
    return report


_HEADER = (f"{'passages':>10} {'system':<11}{'build s':>8}{'index (no store) MiB':>21}"
           f"{'load s':>8}"
           f"{'corpus s':>9}{'RSS MiB':>9}{'build RSS':>10}{'timed':>6}{'q/s':>8}{'p50 ms':>8}"
           f"{'p95 ms':>8}{'cold ask':>9}{'ask RSS':>8}")


def _format_row(r: dict) -> str:
    build_rss = max(r["build_peak_rss_mib"], r.get("build_worker_peak_rss_mib", 0.0))
    cold = (f"{r['cold_ask_s']:>9.2f}{r['cold_ask_rss_mib']:>8.0f}" if "cold_ask_s" in r
            else f"{'':>9}{'':>8}")
    size = (f"{r['index_mib']:.1f}" + (f" ({r['index_mib'] - r['store_mib']:.1f})"
                                       if r.get("store_mib") else ""))
    return (f"{r['passages']:>10,} {r['system']:<11}{r['build_s']:>8.1f}{size:>21}"
            f"{r['load_s']:>8.2f}{r['corpus_load_s']:>9.2f}{r['serve_peak_rss_mib']:>9.0f}"
            f"{build_rss:>10.0f}{r['queries']:>6}{r['qps']:>8.0f}{r['p50_ms']:>8.2f}"
            f"{r['p95_ms']:>8.2f}{cold}")


def _format_pair(p: dict) -> str:
    a, b = p["ours"], p["bm25s"]
    return (f"{p['passages']:>10,} paired: ours p50 {a['p50_ms']:.2f} ms, p95 {a['p95_ms']:.2f} "
            f"ms, {a['qps']:.0f} q/s; {p['against']} p50 {b['p50_ms']:.2f} ms, p95 "
            f"{b['p95_ms']:.2f} ms, {b['qps']:.0f} q/s; ours/theirs p50 {p['p50_ratio']:.2f}x, "
            f"q/s {p['qps_ratio']:.2f}x")


def print_table(report: dict) -> None:
    print(f"\nSpeed and size: up to {report['queries']} SQuAD questions, one at a time, "
          f"single-threaded"
          f" (RSS = the serving process's own peak; build RSS = the larger of the building "
          f"process and its largest worker; cold ask = one whole `qabot ask` process)")
    print(_HEADER)
    for r in report["rows"]:
        print(_format_row(r))
    for p in report.get("paired", ()):
        print(_format_pair(p))


def plot(report: dict, path: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for system, style in (("ours", "o-"), ("bm25s", "s--"), ("bm25s-nb", "^:"),
                          ("bm25s-p-nb", "v-.")):
        rows = [r for r in report["rows"] if r["system"] == system]
        if not rows:
            continue
        sizes = [r["passages"] for r in rows]
        ax1.plot(sizes, [r["p50_ms"] for r in rows], style, label=f"{system} p50")
        ax1.plot(sizes, [r["p95_ms"] for r in rows], style, alpha=0.5, label=f"{system} p95")
        ax2.plot(sizes, [r["serve_peak_rss_mib"] for r in rows], style, label=f"{system} serving")
        if not system.endswith("-nb"):  # the same build as without numba
            ax2.plot(sizes, [max(r["build_peak_rss_mib"], r["build_worker_peak_rss_mib"])
                             for r in rows], style, alpha=0.5, label=f"{system} building")
    for ax, label in ((ax1, "latency per question (ms)"), (ax2, "peak RSS (MiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages in the corpus")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("qabot vs bm25s: latency and memory against corpus size")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return _child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--json", type=Path, default=RESULTS / "speed.json")
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep corpora and indexes")
    args = parser.parse_args(argv)
    report = run(args.sizes, args.queries, args.json, args.keep)
    if args.plot:
        print(f"plot written to {plot(report, args.plot)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
