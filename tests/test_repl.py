"""The REPL: commands, answers, and the prompt loop's keys (Ctrl-C, Ctrl-D, history)."""
from __future__ import annotations

import io
import re

from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from rich.console import Console

from bot.repl import Repl


def make_repl(service, settings):
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False, soft_wrap=True, color_system=None)
    return Repl(service, settings, console=console), out


def test_question_more_context_and_k(service, settings):
    repl, out = make_repl(service, settings)
    assert repl.handle("Who is expected to visit Russia soon?")
    text = out.getvalue()
    assert "“Meanwhile, the recently appointed US Secretary of State, John Kerry" in text
    assert "RT, 4 February 2013" in text
    repl.handle(":more")
    # Each alternative is quoted once (one that opens with a quotation mark of its own is
    # not given a second: see test_render's quoting tests).
    openings = re.findall(r"\n\d+\. (.)(.)", out.getvalue())
    assert openings and all(first == "“" and second not in "“\"" for first, second in openings)
    before = len(out.getvalue())
    repl.handle(":context")
    context = out.getvalue()[before:]
    assert context.startswith("RT, 4 February 2013 · WMD may be key to US-Russia 'reset'")
    assert "Meanwhile, the recently appointed US Secretary of State, John Kerry" in context
    assert "… I hope that there will be no more such situations, he added." in context
    repl.handle(":k 1")
    assert "answers ranked: 1" in out.getvalue()
    # The session is a conversation: asked again inside it, the alternatives would prefer the
    # conversation's article. Start afresh to see the question's own alternatives.
    repl.handle(":new")
    repl.handle("Who is expected to visit Russia soon?")
    before = len(out.getvalue())
    repl.handle(":more")   # after :k 1, :more still has other answers: it ranks more
    more = out.getvalue()[before:]
    assert "No other answers" not in more
    assert more.startswith("1. “") and "\n4. “" in more     # it ranks more than :k gave


def test_commands_and_errors(service, settings):
    repl, out = make_repl(service, settings)
    repl.handle(":more")
    assert "Ask a question first." in out.getvalue()
    repl.handle(":k zero")
    assert ":k needs a whole number from 1 to 50" in out.getvalue()
    repl.handle(":nope")
    assert "Unknown command :nope" in out.getvalue()
    repl.handle(":help")
    assert ":sources" in out.getvalue()
    repl.handle(":sources")
    assert "Kyiv Post (Interfax)" in out.getvalue()
    repl.handle("x" * 5000)
    assert "characters long" in out.getvalue()
    assert repl.handle(":quit") is False


def test_prompt_loop_ctrl_c_ctrl_d_and_history(service, settings, tmp_path):
    history = tmp_path / "history"
    settings = settings.with_overrides(**{"repl.history_file": str(history)})
    repl, out = make_repl(service, settings)
    with create_pipe_input() as pipe:
        pipe.send_text("What is the Dima Yakovlev Law?\r")
        pipe.send_text("half typed\x03")   # Ctrl-C: clear the line, keep going
        pipe.send_text("\x04")             # Ctrl-D on an empty line: leave
        assert repl.run(input=pipe, output=DummyOutput()) == 0
    text = out.getvalue()
    assert "Dima Yakovlev Law" in text and text.rstrip().endswith("bye")
    assert "What is the Dima Yakovlev Law?" in history.read_text()
    assert "half typed" not in text


def test_blank_input_is_not_kept_in_the_history(service, settings, tmp_path):
    history = tmp_path / "history"
    settings = settings.with_overrides(**{"repl.history_file": str(history)})
    repl, out = make_repl(service, settings)
    with create_pipe_input() as pipe:
        pipe.send_text("   \r")
        pipe.send_text("What is the Dima Yakovlev Law?\r")
        pipe.send_text("\t \r")
        pipe.send_text("\x04")
        assert repl.run(input=pipe, output=DummyOutput()) == 0
    kept = [line for line in history.read_text().splitlines() if line.startswith("+")]
    assert kept == ["+What is the Dima Yakovlev Law?"]


def test_a_history_file_in_a_missing_directory_creates_no_directory(service, settings,
                                                                      tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    settings = settings.with_overrides(**{"repl.history_file": str(missing / "h")})
    repl, out = make_repl(service, settings)
    with create_pipe_input() as pipe:
        pipe.send_text("What is the Dima Yakovlev Law?\r\x04")
        assert repl.run(input=pipe, output=DummyOutput()) == 0
    assert not (tmp_path / "nonexistent").exists()
    assert f"history not saved: the directory {missing} does not exist" in out.getvalue()
    assert "Dima Yakovlev Law" in out.getvalue()


def test_pasted_lines_are_each_asked_and_bare_commands_work(service, settings):
    repl, out = make_repl(service, settings)
    assert repl.handle("What is the Dima Yakovlev Law?\nWho is Sergey Magnitsky?\n")
    assert out.getvalue().count("score ") == 2
    assert repl.handle("HELP") and ":source NAME" in out.getvalue()
    assert repl.handle(":sources now") and ":sources takes no argument" in out.getvalue()
    assert repl.handle("exit") is False


def test_a_question_that_cannot_be_asked_shows_no_hint_of_the_previous_one(service, settings):
    repl, out = make_repl(service, settings)
    repl.handle("Who is expected to visit Russia soon?")
    before = len(out.getvalue())
    repl.handle("x" * 5000)
    assert out.getvalue()[before:].strip() == ("the question is 5,000 characters long; the "
                                               "limit is 2,000")


def test_a_year_of_other_digits_is_refused_not_a_crash(service, settings):
    """"²".isdigit() is true but int("²") raises: the REPL ended with an internal error."""
    repl, out = make_repl(service, settings)
    assert repl.handle(":year ²") is True
    assert ":year needs a year of the articles" in out.getvalue()
    assert repl.handle(":year 2013") is True and "year: 2013" in out.getvalue()


def test_more_ranks_the_question_as_it_was_asked_not_with_filters_set_since(service, settings):
    repl, out = make_repl(service, settings)
    repl.handle(":k 1")
    repl.handle("Who is expected to visit Russia soon?")
    repl.handle(":source The Hindu")
    before = len(out.getvalue())
    repl.handle(":more")
    shown = out.getvalue()[before:]
    assert shown.startswith("1. ")
    assert any(source in shown for source in ("RT,", "China Topix,", "Kyiv Post", "Irish Times"))
