"""The command line as people expect it (issue 10): usage errors exit 2 in argparse's style,
filters checked against the corpus, --version, examples in --help, a closed pipe, unrelated
environment variables, and the eval command's checks."""
from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from bot.cli import EXAMPLES, main
from tests.conftest import ROOT
from tests.test_cli import run_cli


def _usage(capsys, settings, *args: str) -> tuple[int, str]:
    code = main([*args, "--index-dir", str(settings.index.dir)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("args", "expected"), [
    (["ask"], "error: no question given"),
    (["ask", "q", "--batch", "-"], "error: give either a question or --batch FILE, not both"),
    (["ask", "q", "--top-k", "51"], "error: argument --top-k: must be 50 or less, got 51"),
    (["ask", "q", "--top-k", "0"], "error: argument --top-k: must be 1 or more, got 0"),
    (["ask", "q", "--year", "13"], "error: argument --year: expected a year of four digits"),
    (["ask", "q", "--year", "1999"], "error: no article was published in 1999; the articles "
                                     "are from: 2009, 2013, 2014"),
    (["ask", "q", "--source", "BBC"], "error: unknown source 'BBC'; the articles are from: "
                                      "China Topix, Kyiv Post (Interfax), RT, The Hindu, "
                                      "The Irish Times (Financial Times service)"),
    (["ask", "q", "--source", "Hindu"], "error: unknown source 'Hindu' (did you mean "
                                        "'The Hindu'?); the articles are from:"),
    (["ask", "q", "--source", "the"], "error: the source 'the' could be The Hindu or "
                                      "The Irish Times (Financial Times service)"),
    (["ask", "--batch", "-", "--source", "BBC"], "error: unknown source 'BBC'"),
])
def test_every_usage_error_exits_2_in_argparses_style(capsys, settings, args, expected):
    code, err = _usage(capsys, settings, *args)
    assert code == 2, err
    lines = err.splitlines()
    assert lines[0].startswith("usage: qabot ask ") and lines[-1].startswith("qabot ask: error: ")
    assert expected in err and "Traceback" not in err


@pytest.mark.parametrize(("given", "source"), [("rt", "RT"), ("THE HINDU", "The Hindu"),
                                               ("kyiv", "Kyiv Post (Interfax)")])
def test_a_source_in_any_case_or_a_unique_prefix_is_accepted(capsys, settings, given, source):
    assert main(["ask", "What did Lavrov announce?", "--source", given, "--json",
                 "--index-dir", str(settings.index.dir)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert all(a["source"] == source for a in [record["answer"], *record["alternatives"]] if a)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == "qabot 0.1.0"


@pytest.mark.parametrize("command", ["ask", "index", "sources", "eval", "repl", "discord"])
def test_each_commands_help_has_examples(capsys, command):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:\n  qabot " in out or "examples:\n  DISCORD_TOKEN" in out
    assert EXAMPLES[command] in out


@pytest.mark.parametrize("args", [
    ["ask", "What did Lavrov say?", "--top-k", "50"],
    ["sources"],
    ["ask", "--batch", "QUESTIONS"],
])
def test_a_closed_pipe_is_not_an_error(settings, tmp_path, args):
    """`qabot ... | head -c 1`: the reader leaves after one byte while the command has more to
    write; it stops quietly with status 0."""
    questions = tmp_path / "questions.txt"
    questions.write_text("What is the Dima Yakovlev Law?\n" * 200, encoding="utf-8")
    args = [str(questions) if a == "QUESTIONS" else a for a in args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env["COLUMNS"] = "40"                       # more lines for the table
    command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "bot", *args,
                                                "--index-dir", str(settings.index.dir)])
    done = subprocess.run(["bash", "-c", f"{command} | head -c 1 >/dev/null; "
                                         "echo ${PIPESTATUS[0]}"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert done.stdout.strip() == "0", done.stderr
    assert done.stderr == ""


def test_an_unrelated_qabot_variable_is_ignored_with_a_warning(settings):
    done = run_cli(settings, "ask", "What is the Dima Yakovlev Law?", "--json",
                   env={"QABOT_FOO": "1"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["answer"]["source"] == "RT"
    assert "ignoring the environment variable QABOT_FOO" in done.stderr


def _eval_set(tmp_path, questions) -> str:
    path = tmp_path / "set.json"
    path.write_text(json.dumps({"questions": questions}), encoding="utf-8")
    return str(path)


def test_eval_flags_an_expected_article_not_in_the_corpus(capsys, settings, tmp_path):
    path = _eval_set(tmp_path, [{"id": "a", "question": "What is the Dima Yakovlev Law?",
                                 "expected": {"article_id": "no-such-article", "text": "x"}}])
    assert main(["eval", path, "--index-dir", str(settings.index.dir)]) == 1
    err = capsys.readouterr().err
    assert "1 question(s) expect an article that is not in the corpus: a ('no-such-article')" in err


def test_eval_a_question_without_expected_is_an_error_in_the_set(capsys, settings, tmp_path):
    path = _eval_set(tmp_path, [{"id": "a", "question": "What is the Dima Yakovlev Law?"}])
    assert main(["eval", path, "--index-dir", str(settings.index.dir)]) == 1
    assert "question 1: needs \"expected\"" in capsys.readouterr().err


def test_eval_without_answerable_questions_says_n_a(capsys, settings, tmp_path):
    path = _eval_set(tmp_path, [{"id": "a", "question": "Who won the 2018 FIFA World Cup?",
                                 "expected": None}])
    assert main(["eval", path, "--index-dir", str(settings.index.dir)]) == 0
    out = capsys.readouterr().out
    rows = [" ".join(line.replace("│", " ").split()) for line in out.splitlines()]
    assert "top-1 accuracy n/a" in rows and "MRR@10 n/a" in rows and "0.000" not in out
    assert main(["eval", path, "--json", "--index-dir", str(settings.index.dir)]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["top1_accuracy"] is None and figures["mrr_at_10"] is None
