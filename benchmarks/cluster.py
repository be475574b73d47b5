"""The cluster backend beside the local index, in one run on one machine.

On a local Ray (the machine's CPUs, 127.0.0.1), over the SQuAD v1.1 dev paragraphs (or a
larger corpus of recombined SQuAD sentences, ``--passages N``):

* exactness: every held-out SQuAD question asked of the local index and of ``--shards``
  shards (``QAService`` both, the bot's own code path, ``top_k=10``): the number of results
  that differ in any way (answer, alternatives, scores, confidences, message) must be 0
  (the exit status is 1 otherwise);
* overhead: both timed question by question, in alternating order; the per-question
  difference (cluster less local), p50 and p95, and each one's own p50 and p95;
* the first stage alone (what the shards do, and the fan-out and merge), local and cluster;
* throughput: questions per second with ``--clients`` threads asking at once, local and
  through the shards with 1 and 2 replicas of each, end to end and for the first stage alone;
* memory: each shard actor's resident memory (from /proc), beside its passages.

    python -m benchmarks.cluster [--sample N] [--passages N] [--shards 4] [--clients 4]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
WORK = RESULTS / "work" / "cluster"


@dataclass(frozen=True)
class Timings:
    p50_ms: float
    p95_ms: float
    mean_ms: float


def timings(latencies_ms: Sequence[float]) -> Timings:
    ordered = sorted(latencies_ms)
    return Timings(round(statistics.median(ordered), 3),
                   round(ordered[int(0.95 * (len(ordered) - 1))], 3),
                   round(statistics.fmean(ordered), 3))


def throughput(ask: Callable[[str], Any], questions: Sequence[str], clients: int) -> float:
    """Questions per second with ``clients`` threads taking the questions in turn."""
    position = iter(range(len(questions)))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                i = next(position, None)
            if i is None:
                return
            ask(questions[i])

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(len(questions) / (time.perf_counter() - started), 1)


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024.0, 1)
    except OSError:
        return None
    return None


def run(sample: int | None, passages: int, shards: int, clients: int,
        out: Path | None) -> dict[str, Any]:
    import ray

    from benchmarks.data import load_squad, scaled_corpus, write_jsonl
    from benchmarks.report import machine, write_json
    from retrieval.service import QAService
    from retrieval.settings import load_settings

    articles, questions = load_squad()
    held_out = [q.text for q in questions if q.held_out]
    if sample:
        held_out = held_out[::max(1, len(held_out) // sample)][:sample]
    corpus = WORK / f"corpus-{passages or 'squad'}.jsonl"
    if not corpus.exists():
        write_jsonl(scaled_corpus(passages, articles) if passages else articles, corpus)
    base = load_settings(environ={}).with_overrides(**{
        "corpus.path": str(corpus), "index.dir": str(WORK / f"index-{passages or 'squad'}"),
        "cluster.shards": shards, "cluster.timeout_seconds": 60.0})

    ray.init(num_cpus=None, include_dashboard=False, _node_ip_address="127.0.0.1",
             log_to_driver=False, configure_logging=False)
    started = time.perf_counter()
    local = QAService(base)
    print(f"index: {local.last_load.passages:,} passages, {local.last_load.articles:,} "
          f"articles ({'built' if local.last_load.rebuilt else 'loaded'} in "
          f"{time.perf_counter() - started:.1f}s)", flush=True)
    started = time.perf_counter()
    # The cluster's own index: built on the cluster (segments written by Ray tasks).
    cluster_settings = base.with_overrides(**{
        "cluster.enabled": True,
        "index.dir": str(WORK / f"index-{passages or 'squad'}-cluster-{shards}")})
    cluster = QAService(cluster_settings)
    start_s = time.perf_counter() - started
    print(f"cluster index: {len(cluster.index.commit_.names)} segments "
          f"({'built' if cluster.last_load.rebuilt else 'loaded'})", flush=True)
    stage = cluster._state.answerer.first_stage
    shard_infos = [ray.get(replicas[0].info.remote()) for replicas in stage.actors]
    memory = [{"passages": i.passages, "rss_mib": rss_mib(i.pid)} for i in shard_infos]
    print(f"{shards} shards started in {start_s:.1f}s (with the build, if any): " + ", ".join(
        f"{m['passages']:,} passages {m['rss_mib']} MiB" for m in memory), flush=True)

    for question in held_out[:20]:          # warm-up: caches, lazy imports, connections
        local.ask(question, top_k=10)
        cluster.ask(question, top_k=10)
    mismatches, unavailable, local_ms, cluster_ms = [], 0, [], []
    for number, question in enumerate(held_out):
        pair: dict[str, Any] = {}
        for name in (("local", "cluster") if number % 2 == 0 else ("cluster", "local")):
            service = local if name == "local" else cluster
            t = time.perf_counter()
            pair[name] = service.ask(question, top_k=10)
            pair[name + "_ms"] = (time.perf_counter() - t) * 1000.0
        local_ms.append(pair["local_ms"])
        cluster_ms.append(pair["cluster_ms"])
        unavailable += pair["cluster"].unavailable
        if pair["local"] != pair["cluster"]:
            mismatches.append(question)
    overhead = [c - l for c, l in zip(cluster_ms, local_ms)]
    print(f"{len(held_out):,} held-out questions: {len(mismatches)} mismatches, "
          f"{unavailable} unavailable", flush=True)

    # The first stage alone: local searcher against the fan-out to the shards and the merge.
    index = local._state.index
    vectors = [index.query_vector(q) for q in held_out]
    n = base.answer.candidate_passages
    first_local, first_cluster = [], []
    for ids, weights in vectors:
        for searcher, into in ((local._state.answerer._first_stage, first_local),
                               (stage, first_cluster)):
            t = time.perf_counter()
            searcher.best_passages(ids, weights, n)
            into.append((time.perf_counter() - t) * 1000.0)

    rates: dict[str, Any] = {"local": throughput(lambda q: local.ask(q, top_k=10), held_out,
                                                  clients)}
    vector_of = dict(zip(held_out, vectors))
    rates["local first stage"] = throughput(
        lambda q: local._state.answerer._first_stage.best_passages(*vector_of[q], n),
        held_out, clients)
    for replicas in (1, 2):
        service = cluster if replicas == 1 else QAService(cluster_settings.with_overrides(**{
            "cluster.replicas": replicas}))
        first = service._state.answerer.first_stage
        rates[f"{replicas} replica(s)"] = throughput(lambda q: service.ask(q, top_k=10),
                                                     held_out, clients)
        rates[f"{replicas} replica(s) first stage"] = throughput(
            lambda q: first.best_passages(*vector_of[q], n), held_out, clients)
        print(f"{replicas} replica(s): {rates[f'{replicas} replica(s)']} questions/s", flush=True)

    report = {
        "benchmark": "cluster backend beside the local index", "machine": machine(),
        "ray": ray.__version__, "passages": local.last_load.passages,
        "articles": local.last_load.articles, "shards": shards, "clients": clients,
        "questions": len(held_out), "mismatches": len(mismatches),
        "mismatched": mismatches[:20], "unavailable": unavailable,
        "cluster_start_s": round(start_s, 2), "cluster_built": cluster.last_load.rebuilt,
        "segments": len(cluster.index.commit_.names),
        "local": timings(local_ms).__dict__, "cluster": timings(cluster_ms).__dict__,
        "overhead": timings(overhead).__dict__,
        "first_stage_local": timings(first_local).__dict__,
        "first_stage_cluster": timings(first_cluster).__dict__,
        "throughput_qps": rates, "shard_memory": memory,
        "coordinator_rss_mib": rss_mib(__import__("os").getpid()),
    }
    print_table(report)
    write_json(report, out)
    ray.shutdown()
    return report


def print_table(r: dict[str, Any]) -> None:
    print(f"\n{r['passages']:,} passages, {r['shards']} shards on a local Ray, "
          f"{r['questions']:,} held-out SQuAD questions: {r['mismatches']} mismatches")
    print(f"{'':<24}{'p50 ms':>9}{'p95 ms':>9}{'mean ms':>9}")
    for key in ("local", "cluster", "overhead", "first_stage_local", "first_stage_cluster"):
        t = r[key]
        print(f"{key:<24}{t['p50_ms']:>9.2f}{t['p95_ms']:>9.2f}{t['mean_ms']:>9.2f}")
    print(f"throughput, {r['clients']} clients (questions/s): " + ", ".join(
        f"{k} {v}" for k, v in r["throughput_qps"].items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, help="ask this many held-out questions only")
    parser.add_argument("--passages", type=int, default=0,
                        help="a corpus of this many passages (default: the SQuAD paragraphs)")
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    name = f"cluster-{args.passages or 'squad'}.json"
    report = run(args.sample, args.passages, args.shards, args.clients, args.out or RESULTS / name)
    if report["mismatches"]:    # the cluster must answer exactly as the local index
        print(f"FAILED: {report['mismatches']} of {report['questions']:,} questions were "
              "answered differently through the shards", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
