"""The cluster backend on a local Ray (2 CPUs, started once for the session): an index built
on the cluster (segments written by Ray tasks) answers through 2 and 4 shards exactly as the
local index does, an article added lands on one shard, a shard killed mid-run loses no
question, a shard down past the timeout says the index is partly unavailable, replicas share
the load, and a reload (``/reload`` in Discord) swaps in new shards."""
from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from bot.cli import main
from retrieval.answerer import Filters, Result
from retrieval.conversation import Conversation
from retrieval.errors import ClusterError
from retrieval.service import QAService
from retrieval.settings import Settings
from retrieval.index import TfidfIndex, add_articles
from tests.conftest import ROOT
from tests.discord_fixtures import DIMA_QUESTION, FakeInteraction, offline_bot
from tests.test_seed_answers import NOT_IN_CORPUS, SEED

QUESTIONS = [q for q, *_ in SEED]
FOLLOW_UPS = [("What did Lavrov say in his interview with Russian Channel Five?",
               "What else did he say?"),
              ("What is the Dima Yakovlev Law?", "Who signed it?")]
UNAVAILABLE = "The index is partly unavailable"


@pytest.fixture(scope="module")
def cluster_settings(local_ray: object, settings: Settings,
                     tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Settings]:
    """Settings of the cluster backend, over an index of their own (built on the cluster by
    the first service; ``index_dir`` for another one)."""
    shared = tmp_path_factory.mktemp("cluster") / "index"

    def make(shards: int, replicas: int = 1, timeout: float = 60.0,
             index_dir: Path = shared, **more: object) -> Settings:
        return settings.with_overrides(**{"cluster.enabled": True, "cluster.shards": shards,
                                          "cluster.replicas": replicas,
                                          "cluster.timeout_seconds": timeout,
                                          "index.dir": str(index_dir), **more})
    return make


@pytest.fixture(scope="module")
def four_shards(cluster_settings: Callable[..., Settings]) -> Iterator[QAService]:
    yield QAService(cluster_settings(4))


def asked_in_conversation(service: QAService, first: str, follow_up: str) -> Result:
    turn = service.ask(first, conversation=Conversation()).turn
    assert turn is not None
    conversation = Conversation().add(replace(turn, at=1000.0),
                                      service.settings.conversation)
    result = service.ask(follow_up, conversation=conversation)
    assert result.turn is not None
    return replace(result, turn=replace(result.turn, at=0.0))


def same_answers(service: QAService, local: QAService) -> None:
    for question in QUESTIONS + NOT_IN_CORPUS:
        assert service.ask(question) == local.ask(question), question
    for question in QUESTIONS[:6]:
        for filters in (Filters(source="RT"), Filters(year=2013)):
            assert service.ask(question, filters=filters) == local.ask(question,
                                                                      filters=filters)
    for first, follow_up in FOLLOW_UPS:
        assert asked_in_conversation(service, first, follow_up) == \
            asked_in_conversation(local, first, follow_up)


def actors(service: QAService) -> tuple[tuple[object, ...], ...]:
    return service._state.answerer.first_stage.actors  # type: ignore[union-attr]


def infos(ray, service: QAService) -> list[list[object]]:
    """What every actor of the service's shards says of itself (waiting for restarts)."""
    return [ray.get([a.info.remote() for a in replicas], timeout=120)
            for replicas in actors(service)]


def ended(pid: int, seconds: float = 30.0) -> None:
    """Wait until process ``pid`` (a shard's, on this machine) has ended."""
    import time
    deadline = time.monotonic() + seconds
    status = Path(f"/proc/{pid}/status")
    while time.monotonic() < deadline:
        try:
            if "\nState:\tZ" in status.read_text():     # ended, not yet reaped
                return
        except FileNotFoundError:
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not end within {seconds:g} s")


def test_two_and_four_shards_answer_exactly_as_the_local_index(
        four_shards: QAService, cluster_settings, service: QAService, local_ray) -> None:
    assert four_shards.last_load.rebuilt                 # built on the cluster...
    segments = four_shards.index.commit_.names
    assert len(segments) >= 4 and len(service.index.commit_.names) == 1   # ...not merged
    shards = infos(local_ray, four_shards)
    assert len(shards) == 4 and sum(row[0].passages for row in shards) == \
        service.last_load.passages
    assert [row[0].first_passage for row in shards] == sorted(
        {row[0].first_passage for row in shards})
    assert len({row[0].pid for row in shards}) == 4    # four actors, four processes
    same_answers(four_shards, service)
    two = QAService(cluster_settings(2))
    assert not two.last_load.rebuilt and len(infos(local_ray, two)) == 2
    same_answers(two, service)


def test_the_cli_answers_through_four_shards_configured_by_the_environment(
        monkeypatch, capsys, four_shards: QAService) -> None:
    from retrieval.cluster.coordinator import Cluster
    fanned_out: list[int] = []               # how many shards answered each first stage
    fan_out = Cluster._fan_out

    def counted(self: Cluster, call: Callable[..., object]) -> list[object]:
        results = fan_out(self, call)
        fanned_out.append(len(results))
        return results

    monkeypatch.setattr(Cluster, "_fan_out", counted)
    for name, value in (("CLUSTER__ENABLED", "true"), ("CLUSTER__SHARDS", "4"),
                        ("INDEX__DIR", str(four_shards.settings.index_dir))):
        monkeypatch.setenv(f"QABOT_{name}", value)
    assert main(["ask", "--json", "What is the Dima Yakovlev Law?"]) == 0
    answer = json.loads(capsys.readouterr().out)["answer"]
    assert answer["text"].startswith("Later, President Putin signed into force the ‘Dima "
                                     "Yakovlev Law,’") and answer["source"] == "RT"
    assert fanned_out and set(fanned_out) == {4}     # through the four shards, not locally


def test_a_shard_killed_mid_run_loses_no_question(cluster_settings, service: QAService,
                                                  local_ray) -> None:
    cluster = QAService(cluster_settings(2, timeout=60.0))
    expected = {q: service.ask(q) for q in QUESTIONS}
    before = infos(local_ray, cluster)
    results: list[tuple[str, Result]] = []
    started = threading.Event()
    stop = threading.Event()

    def ask_repeatedly() -> None:
        while not stop.is_set():
            for question in QUESTIONS:
                results.append((question, cluster.ask(question)))
                started.set()

    worker = threading.Thread(target=ask_repeatedly)
    worker.start()
    try:
        assert started.wait(60)
        local_ray.kill(actors(cluster)[1][0], no_restart=False)   # Ray restarts it
        after = infos(local_ray, cluster)                          # waits for the restart
        asked = len(results)
        while len(results) < asked + len(QUESTIONS) and worker.is_alive():
            stop.wait(0.05)
    finally:
        stop.set()
        worker.join()
    assert after[1][0].pid != before[1][0].pid and after[0][0].pid == before[0][0].pid
    assert len(results) >= 2 * len(QUESTIONS)
    for question, result in results:
        assert result == expected[question], question


def test_a_shard_restarting_past_the_timeout_makes_the_index_partly_unavailable(
        cluster_settings, service: QAService, local_ray) -> None:
    cluster = QAService(cluster_settings(2, timeout=0.3))  # a restart takes longer than that
    assert cluster.ask(DIMA_QUESTION) == service.ask(DIMA_QUESTION)     # both shards warm
    pid = infos(local_ray, cluster)[1][0].pid
    local_ray.kill(actors(cluster)[1][0], no_restart=False)
    ended(pid)          # the kill is asynchronous: until then the old process could answer
    result = cluster.ask(DIMA_QUESTION)
    assert result.answer is None and result.alternatives == () and result.turn is None
    assert result.unavailable
    # shard 2 is restarting; on a loaded machine the healthy shard 1 may miss 0.3 s as well
    # (seen once with other work on the 2 cores), which the message then names too
    assert result.message in (
        f"{UNAVAILABLE}: {which} did not answer within 0.3 s (restarting?), so the question "
        "was not answered from the rest of it. Ask again in a moment."
        for which in ("shard 2 of 2", "shards 1, 2 of 2")), result.message
    infos(local_ray, cluster)                              # restarted: answers again
    assert cluster.ask(DIMA_QUESTION) == service.ask(DIMA_QUESTION)


def test_a_shard_dead_for_good_makes_the_index_partly_unavailable(cluster_settings,
                                                                   local_ray) -> None:
    cluster = QAService(cluster_settings(2, timeout=5.0))
    assert cluster.ask(DIMA_QUESTION).answer is not None
    pid = infos(local_ray, cluster)[0][0].pid
    local_ray.kill(actors(cluster)[0][0], no_restart=True)
    ended(pid)
    result = cluster.ask(DIMA_QUESTION)
    assert result.answer is None and result.alternatives == () and result.unavailable
    assert result.message.startswith(f"{UNAVAILABLE}: shard 1 of 2 is down")


def test_replicas_share_the_load_and_stand_in_for_a_dead_one(
        cluster_settings, service: QAService, local_ray) -> None:
    cluster = QAService(cluster_settings(2, replicas=2, timeout=30.0))
    for question in QUESTIONS:
        assert cluster.ask(question) == service.ask(question)
    served = [[info.served for info in row] for row in infos(local_ray, cluster)]
    assert all(abs(a - b) <= 1 and a + b == len(QUESTIONS) for a, b in served), served
    local_ray.kill(actors(cluster)[0][1], no_restart=True)    # one replica gone for good
    for question in QUESTIONS:
        assert cluster.ask(question) == service.ask(question)


def test_a_reload_swaps_in_new_shards_and_answers_meanwhile(
        cluster_settings, service: QAService, local_ray, tmp_path: Path) -> None:
    cluster = QAService(cluster_settings(2, index_dir=tmp_path / "index"))
    old = [info.pid for row in infos(local_ray, cluster) for info in row]
    expected = service.ask(DIMA_QUESTION)
    answers: list[Result] = []
    stop = threading.Event()

    def ask_repeatedly() -> None:
        while not stop.is_set():
            answers.append(cluster.ask(DIMA_QUESTION))

    worker = threading.Thread(target=ask_repeatedly)
    worker.start()
    try:
        report = cluster.reload(force_rebuild=True)
    finally:
        stop.set()
        worker.join()
    assert report.rebuilt
    assert answers and all(a == expected for a in answers)
    new = [info.pid for row in infos(local_ray, cluster) for info in row]
    assert not set(new) & set(old)
    assert cluster.ask(DIMA_QUESTION) == expected


async def test_an_unavailable_index_is_one_line_in_each_adapter(
        cluster_settings, local_ray, monkeypatch, capsys, caplog) -> None:
    from bot import cli
    from tests.test_repl import make_repl
    cluster = QAService(cluster_settings(2, timeout=5.0))
    pid = infos(local_ray, cluster)[1][0].pid
    local_ray.kill(actors(cluster)[1][0], no_restart=True)
    ended(pid)
    said = (f"{UNAVAILABLE}: shard 2 of 2 is down, so the question was not answered from "
            "the rest of it. Ask again in a moment.")
    caplog.set_level("WARNING")

    def warned() -> list[tuple[str, str]]:     # what the log shows (on stderr in the CLI)
        return [(r.name, r.getMessage()) for r in caplog.records
                if r.levelname == "WARNING" and r.name.split(".")[0] in ("bot", "retrieval")]

    # qabot ask: the line, and no "No answer." or "Try other words" around it, nor a warning
    monkeypatch.setattr(cli, "_service", lambda settings, **_: cluster)
    assert main(["ask", DIMA_QUESTION]) == 1        # not answered: a script may ask again
    assert capsys.readouterr().out == said + "\n" and warned() == []
    assert main(["ask", "--json", DIMA_QUESTION]) == 1
    shown = json.loads(capsys.readouterr().out)
    assert (shown["answer"], shown["unavailable"], shown["message"]) == (None, True, said)
    # the REPL
    repl, shown = make_repl(cluster, cluster.settings)
    repl.handle(DIMA_QUESTION)
    assert shown.getvalue() == said + "\n" and warned() == []
    # Discord: not "The articles do not cover this" with a hint to ask with other words; the
    # bot's log has it, for its operator
    bot = offline_bot(cluster)
    await bot._async_setup_hook()
    await bot.setup_hook()
    try:
        reply = await bot.get_cog("Questions").reply_to(DIMA_QUESTION, None, 1)  # type: ignore
    finally:
        bot.executor.shutdown()
    embed = reply.embed
    assert (embed.title, embed.description, embed.footer.text) == (None, said, None)
    assert reply.view is None or not reply.view.children
    assert warned() == [("bot.discord.cog", f"{DIMA_QUESTION!r} was not answered: {said}")]
    # a batch line is an error line, which a worker can tell from "no answer"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(DIMA_QUESTION.encode() + b"\n")))
    assert main(["ask", "--batch", "-"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert (line["id"], line["answer"], line["error"]) == (1, None, f"line 1: {said}")


async def test_discord_reload_with_the_cluster_backend(cluster_settings, service: QAService,
                                                       tmp_path: Path) -> None:
    cluster = QAService(cluster_settings(2, index_dir=tmp_path / "index"))
    bot = offline_bot(cluster)
    await bot._async_setup_hook()
    await bot.setup_hook()
    try:
        questions = bot.get_cog("Questions")
        interaction = FakeInteraction()
        await questions.reload.callback(questions, interaction, force=True)  # type: ignore
        text = interaction.sent().args[0]
        assert f"Reloaded {len(cluster.articles)} articles" in text and "index rebuilt" in text
        assert cluster.ask(DIMA_QUESTION) == service.ask(DIMA_QUESTION)
    finally:
        bot.executor.shutdown()


def test_shards_open_the_commit_the_coordinator_names(cluster_settings,
                                                      tmp_path: Path) -> None:
    from retrieval.cluster.build import build_on_cluster
    from retrieval.cluster.coordinator import Cluster
    from retrieval.corpus import CorpusStream
    from retrieval.index import delete_articles
    settings = cluster_settings(2, index_dir=tmp_path / "index")
    index_dir, params = settings.index_dir, settings.retrieval.index()
    build_on_cluster(params, index_dir, CorpusStream(settings.corpus.path), settings.cluster)
    opened = TfidfIndex.load(index_dir)
    delete_articles(params, index_dir, [opened.article_ids_[0]])
    # A new commit, of the same segments, replaced the one the coordinator opened: its shards
    # do not open the new one (they would refuse it as another commit) but the one named,
    # which is gone.
    with pytest.raises(ClusterError) as error:
        Cluster(opened, index_dir, cluster_settings(2).cluster).wait_ready()
    assert str(error.value) == (f"a shard of the index could not start: the index at "
                                f"{index_dir} no longer has commit "
                                f"{opened.commit_.generation} (a newer commit replaced it)")


def test_a_shard_given_another_commits_identity_refuses(four_shards: QAService) -> None:
    from retrieval.cluster.shard import Shard, commit_identity
    from retrieval.errors import IndexFormatError
    index = four_shards.index
    index_dir = str(four_shards.settings.index_dir)
    names = list(index.commit_.names[:2])
    identity = commit_identity(index)
    assert Shard(index_dir, index.commit_.generation, identity, names).info().passages > 0
    for key, other in (("fingerprint", "another corpus"), ("stats", {"passages": 1})):
        with pytest.raises(IndexFormatError) as error:
            Shard(index_dir, index.commit_.generation, {**identity, key: other}, names)
        assert str(error.value) == (f"the index at {index_dir} is not the one the cluster was "
                                    f"started with ({key} changed); reload")


def bundled_records() -> list[dict[str, object]]:
    """The bundled corpus's articles as JSON Lines records."""
    from retrieval.corpus import load_corpus
    return [{"id": a.id, "title": a.title, "source": a.source, "text": a.text,
             "date": a.date.iso() if a.date else None}
            for a in load_corpus(ROOT / "corpus").articles]


def test_an_article_added_lands_on_one_shard(cluster_settings, settings_for, write_jsonl,
                                             local_ray, tmp_path: Path) -> None:
    from retrieval.corpus import load_corpus, scan_corpus
    records = bundled_records()
    corpus = write_jsonl(records)
    index_dir = tmp_path / "cluster-index"
    cluster = QAService(cluster_settings(2, index_dir=index_dir, **{"corpus.path": str(corpus)}))
    before = cluster.index.commit_.names
    added = {"id": "penguins", "title": "Penguins", "source": "Polar Times",
             "date": "2015-03-01", "text": "The emperor penguins of the Antarctic colony "
             "elected a new ambassador to the Russian research station on Monday."}
    corpus = write_jsonl(records + [added])
    article = next(a for a in load_corpus(corpus).articles if a.id == "penguins")
    files, fingerprint = scan_corpus(corpus, known=cluster.index.corpus_files_)
    add_articles(cluster.settings.retrieval.index(), index_dir, [article],
                 corpus_files=[asdict(f) for f in files], fingerprint=fingerprint)
    report = cluster.reload()
    assert not report.rebuilt and report.articles == len(records) + 1
    after = cluster.index.commit_.names
    assert after[:len(before)] == before and len(after) == len(before) + 1
    holders = [names for names in cluster._state.answerer.first_stage.segments
               if after[-1] in names]
    assert len(holders) == 1                              # the new segment: one shard
    local = QAService(settings_for(corpus))               # the same corpus, built locally
    question = "Who did the emperor penguins elect?"
    result = cluster.ask(question)
    assert result.answer is not None and result.answer.source == "Polar Times"
    assert result == local.ask(question)
    for question in QUESTIONS[:8]:
        assert cluster.ask(question) == local.ask(question)


def test_merging_added_segments_keeps_a_segment_per_shard(
        cluster_settings, settings_for, write_jsonl, tmp_path: Path) -> None:
    from retrieval.cluster.build import build_on_cluster
    from retrieval.corpus import CorpusStream, load_corpus
    from retrieval.service import record_change
    records = bundled_records()
    corpus = write_jsonl(records)
    settings = cluster_settings(4, index_dir=tmp_path / "merged", **{"corpus.path": str(corpus)})
    built = build_on_cluster(settings.retrieval.index(), settings.index_dir,
                             CorpusStream(corpus), settings.cluster)       # `qabot index`
    counts = [len(built.segments)]
    for number in range(1, 11):           # added one at a time, as `qabot add` does
        records.append({"id": f"penguins-{number}", "title": f"Penguins {number}",
                        "source": "Polar Times", "date": f"2015-03-{number:02d}",
                        "text": f"The emperor penguins of colony {number} elected a new "
                                f"ambassador, number {number}, to the research station."})
        corpus = write_jsonl(records)
        added = [a for a in load_corpus(corpus).articles if a.id == f"penguins-{number}"]
        assert record_change(settings, added, files=[corpus.name]) is None
        counts.append(len(TfidfIndex.read_manifest(settings.index_dir)["segments"]))
        if counts[-1] < counts[-2]:
            break
    assert counts[-1] < counts[-2], f"no merge: {counts}"     # the segments were merged...
    assert counts[-1] >= 4, f"merged into fewer segments than shards: {counts}"   # ...not all
    again = QAService(settings)                               # the next start
    assert not again.last_load.rebuilt, again.last_load.reason
    assert len(actors(again)) == 4
    local = QAService(settings_for(corpus))                   # the same corpus, built locally
    for question in QUESTIONS[:8] + ["Who did the emperor penguins of colony 2 elect?"]:
        assert again.ask(question) == local.ask(question), question
    report = again.compact()                                  # `qabot index --compact`
    assert not report.rebuilt, report.reason
    assert len(again.index.commit_.names) == 4 and len(actors(again)) == 4
    for question in QUESTIONS[:8]:
        assert again.ask(question) == local.ask(question), question


def test_an_add_without_the_cluster_settings_keeps_a_cluster_built_index_sharded(
        settings: Settings, tmp_path: Path) -> None:
    # `qabot add` run without the cluster's settings (min_segments 1) on an index the cluster
    # built for 4 shards: a merge of piled-up segments must still leave 4, or the next
    # cluster start rebuilds the whole index
    from retrieval.corpus import CorpusStream, load_corpus
    from retrieval.index import build, compact
    params, root = settings.retrieval.index(), tmp_path / "index"
    built = build(params, root, CorpusStream(ROOT / "corpus"), jobs=1, merge=False,
                  batch_articles=1, min_segments=4)                 # as build_on_cluster
    counts = [len(built.segments)]
    article = load_corpus(ROOT / "corpus").articles[0]
    for number in range(1, 12):
        add_articles(params, root, [replace(article, id=f"copy-{number}")])
        counts.append(len(TfidfIndex.read_manifest(root)["segments"]))
        if counts[-1] < counts[-2]:
            break
    assert counts[-1] < counts[-2], f"no merge: {counts}"
    assert counts[-1] >= 4, f"merged into fewer segments than the cluster's shards: {counts}"
    compact(params, root)               # `qabot index --compact` without them: the same
    assert len(TfidfIndex.read_manifest(root)["segments"]) == 4


def test_a_corpus_of_fewer_articles_than_shards_is_built_once(
        cluster_settings, settings_for, write_jsonl, tmp_path: Path, caplog) -> None:
    corpus = write_jsonl(bundled_records()[:3])
    settings = cluster_settings(4, index_dir=tmp_path / "three", **{"corpus.path": str(corpus)})
    with caplog.at_level("WARNING", logger="retrieval"):
        first = QAService(settings)
        assert first.last_load.rebuilt and len(actors(first)) == 3
        first.reload()                                        # said once, not at every reload
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    again = QAService(settings)
    assert not again.last_load.rebuilt, again.last_load.reason
    assert said == [f"the index at {tmp_path / 'three'} has 3 segment(s) for 3 article(s): 3 "
                    "shard(s) of the cluster, not 4"]
    local = QAService(settings_for(corpus))
    for question in QUESTIONS[:8]:
        assert again.ask(question) == local.ask(question), question


def test_a_corpus_of_unequal_articles_makes_a_segment_per_shard(
        cluster_settings, settings_for, write_jsonl, tmp_path: Path) -> None:
    records = bundled_records()
    # Two long articles around two short ones: cut by size alone, the short ones go with the
    # second long one (two or three segments for four articles and four shards).
    short = [{**records[1], "id": f"short-{n}", "text": records[1]["text"][:200]}
             for n in (1, 2)]
    corpus = write_jsonl([records[4], *short, records[3]])
    settings = cluster_settings(4, index_dir=tmp_path / "unequal",
                                **{"corpus.path": str(corpus)})
    first = QAService(settings)
    assert first.last_load.rebuilt and len(first.index.commit_.names) == 4
    assert len(actors(first)) == 4
    again = QAService(settings)
    assert not again.last_load.rebuilt, again.last_load.reason
    local = QAService(settings_for(corpus))
    for question in QUESTIONS[:8]:
        assert again.ask(question) == local.ask(question), question


def _pid_of(number: int) -> tuple[int, int]:
    import os
    return number, os.getpid()


def test_segments_are_built_by_ray_tasks_in_order(local_ray) -> None:
    import os
    from retrieval.cluster.build import ray_run
    done = list(ray_run(((n,) for n in range(5)), _pid_of, 1))
    assert [n for n, _ in done] == list(range(5))
    assert all(pid != os.getpid() for _, pid in done)


# ------------------------------------------------------------------- settings (no Ray needed)
def test_cluster_settings_come_from_the_environment() -> None:
    from retrieval.settings import load_settings
    cluster = load_settings(environ={"QABOT_CLUSTER__ENABLED": "true",
                                     "QABOT_CLUSTER__SHARDS": "4",
                                     "QABOT_CLUSTER__ADDRESS": "ray://head.example:10001"}).cluster
    assert (cluster.enabled, cluster.shards, cluster.replicas, cluster.address) == (
        True, 4, 1, "ray://head.example:10001")
    assert not load_settings(environ={}).cluster.enabled


@pytest.mark.parametrize(("key", "value", "message"), [
    ("ADDRESS", "http://head:8265", 'cluster.address: Value error, expected "auto", '
                                    '"ray://HOST:PORT", "HOST:PORT" or "" (a local Ray)'),
    ("SHARDS", "0", "cluster.shards: Input should be greater than or equal to 1"),
    ("TIMEOUT_SECONDS", "0", "cluster.timeout_seconds: Input should be greater than 0"),
])
def test_a_wrong_cluster_setting_is_one_line(key: str, value: str, message: str) -> None:
    from retrieval.errors import ConfigError
    from retrieval.settings import load_settings
    with pytest.raises(ConfigError) as error:
        load_settings(environ={f"QABOT_CLUSTER__{key}": value})
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_without_ray_the_cluster_says_how_to_install_it(monkeypatch, capsys,
                                                        settings: Settings) -> None:
    import sys
    monkeypatch.setitem(sys.modules, "ray", None)     # import ray raises ImportError
    monkeypatch.setenv("QABOT_CLUSTER__ENABLED", "true")
    monkeypatch.setenv("QABOT_INDEX__DIR", str(settings.index_dir))
    assert main(["ask", "What is the Dima Yakovlev Law?"]) == 1
    assert capsys.readouterr().err.strip().endswith(
        "cluster.enabled needs Ray: pip install 'qabot[cluster]'")


# ------------------------------------------------------------------ connecting to a cluster
def test_an_address_where_nothing_listens_fails_quickly_in_one_line(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys
    pytest.importorskip("ray")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]          # closed again: nothing listens there
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(QABOT_CLUSTER__ENABLED="true", QABOT_CLUSTER__ADDRESS=f"127.0.0.1:{port}",
               QABOT_INDEX__DIR=str(tmp_path / "index"), RAY_USAGE_STATS_ENABLED="0")
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "What is the Dima Yakovlev Law?"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (f"qabot: cannot connect to the Ray cluster (127.0.0.1:{port}): "
                           f"nothing accepts connections at 127.0.0.1:{port} (Connection "
                           "refused); is `ray start --head` running there?\n")


def test_a_local_ray_started_for_the_cli_leaves_stderr_to_us(write_jsonl,
                                                             tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    pytest.importorskip("ray")
    corpus = write_jsonl(bundled_records()[:2])
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_AUTH_MODE")}
    env.update(QABOT_CLUSTER__ENABLED="true", QABOT_CLUSTER__SHARDS="1",
               QABOT_CORPUS__PATH=str(corpus), QABOT_INDEX__DIR=str(tmp_path / "index"),
               RAY_USAGE_STATS_ENABLED="0")
    question = "What is the Dima Yakovlev Law?"
    done = subprocess.run([sys.executable, "-m", "bot", "ask", "--json", question], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and json.loads(done.stdout)["question"] == question
    assert done.stderr == ""                 # Ray's token-authentication note is not shown


def test_a_ray_client_address_without_ray_client_says_what_to_install(
        monkeypatch, settings: Settings) -> None:
    import sys
    ray = pytest.importorskip("ray")
    from retrieval.cluster.coordinator import connect
    monkeypatch.setattr(ray, "is_initialized", lambda: False)   # as in a process of its own
    monkeypatch.setitem(sys.modules, "grpc", None)              # import grpc raises ImportError
    cluster = settings.with_overrides(**{"cluster.address": "ray://head.example:10001"}).cluster
    with pytest.raises(ClusterError) as error:
        connect(cluster)
    assert str(error.value) == ("cluster.address ray://head.example:10001 needs Ray Client: "
                                "pip install 'qabot[cluster]' (it installs ray[client])")


def test_the_cluster_benchmark_fails_when_an_answer_differs(monkeypatch, capsys) -> None:
    from benchmarks import cluster as benchmark
    reports = iter([{"mismatches": 0, "questions": 5243}, {"mismatches": 2, "questions": 5243}])
    monkeypatch.setattr(benchmark, "run", lambda *args: next(reports))  # its figures only
    assert benchmark.main(["--sample", "10"]) == 0
    assert benchmark.main(["--sample", "10"]) == 1
    assert capsys.readouterr().err == ("FAILED: 2 of 5,243 questions were answered "
                                       "differently through the shards\n")
