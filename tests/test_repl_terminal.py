"""The real REPL in a real 80-column pseudo-terminal (issue 10): answers wrap at word
boundaries, `help` and `quit` work without a colon, Tab completes commands and sources,
a follow-up shows its hint, and without a terminal the REPL reads lines plainly."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.pty_terminal import Terminal

PROMPT = r"(?m)^\?[ ]*$"


@pytest.fixture
def repl(settings, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    env["QABOT_REPL__HISTORY_FILE"] = str(tmp_path / "history")
    terminal = Terminal([sys.executable, "-m", "bot", "repl", "--index-dir",
                         str(settings.index.dir)], columns=80, cwd=ROOT, env=env)
    terminal.read_until(PROMPT)
    yield terminal
    terminal.close()


def _words_intact(shown: str, sentence: str) -> None:
    """Every line fits in 80 columns and the sentence's words are whole, in order."""
    lines = shown.splitlines()
    assert all(len(line) <= 80 or line.lstrip().startswith("http") for line in lines), lines
    assert " ".join(sentence.split()) in " ".join(shown.split())


def test_answers_wrap_at_word_boundaries_at_80_columns(repl):
    repl.type("Who announced an end to the reset in Russian-American relations?\r")
    shown = repl.read_until(r"score [0-9.]+")
    shown = shown[shown.index("\n“"):]          # the answer, after the prompt's redraws
    sentence = ("Russia’s Foreign Minister Sergei Lavrov has announced an end to ‘reset’ in "
                "Russian-American relations, while also acknowledging its positive impact and "
                "adding that Russia wanted constructive interaction with the U.S.")
    _words_intact(shown, "“" + sentence + "”")
    quote_lines = [line for line in shown.splitlines() if line.strip()]
    assert not any(line.strip() in ("”", "“") for line in quote_lines)   # no lone quote mark
    # Broken only between words: each line of the quote ends a word of the sentence.
    words = set(("“" + sentence + "”").split())
    start = next(i for i, line in enumerate(quote_lines) if line.startswith("“Russia’s"))
    for line in quote_lines[start:start + 3]:
        assert line.split()[-1] in words, line
    repl.read_until(PROMPT)


def test_help_and_quit_without_a_colon(repl):
    repl.type("help\r")
    shown = repl.read_until(r":quit\s+leave")
    assert ":source NAME" in shown and "No answer" not in shown
    repl.read_until(PROMPT)
    repl.type("quit\r")
    assert repl.wait() == 0
    assert "bye" in repl.read_until("bye", timeout=5) if "bye" not in repl.seen else True


def test_tab_completes_commands_and_source_names(repl):
    repl.type(":sou\t")          # :source and :sources: Tab completes what they share
    repl.read_until(r":source")
    repl.type(" ky\t")          # ":source ky" + Tab → ":source Kyiv Post (Interfax)"
    repl.read_until(r"Kyiv Post \(Interfax\)")
    repl.type("\r")
    shown = repl.read_until(r"source: Kyiv Post \(Interfax\)")
    assert "unknown source" not in shown
    repl.read_until(PROMPT)
    repl.type(":con\t")         # the only command starting so: completed, then run
    repl.read_until(r":context")
    repl.type("\r")
    repl.read_until(r"Ask a question first\.")


def test_a_pasted_block_asks_every_line(repl):
    repl.type("\x1b[200~What is the Dima Yakovlev Law?\nWho is Sergey Magnitsky?\x1b[201~\r")
    shown = repl.read_until(r"(?s)Dima Yakovlev Law.*score.*score [0-9.]+")
    assert shown.count("score ") == 2


def test_without_a_terminal_questions_are_read_line_by_line(settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    done = subprocess.run([sys.executable, "-m", "bot", "repl", "--index-dir",
                           str(settings.index.dir)], input="What is the Dima Yakovlev Law?\n"
                          "help\n:k 1\n", capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    assert "\x1b" not in done.stdout and "? " not in done.stdout.splitlines()[0]
    assert done.stdout.startswith("“Later, President Putin signed into force the ‘Dima "
                                  "Yakovlev Law,’ which introduced a ban against Americans "
                                  "adopting Russian orphans.”\n")
    assert ":source NAME" in done.stdout and done.stdout.endswith("answers ranked: 1\n")
    assert not re.search(r"bye|qabot —", done.stdout)


def test_qabot_ask_wraps_at_word_boundaries_at_a_terminal(service, settings):
    env = {k: v for k, v in os.environ.items() if not k.startswith("QABOT_")}
    terminal = Terminal([sys.executable, "-m", "bot", "ask", "Who announced an end to the "
                         "reset in Russian-American relations?", "--index-dir",
                         str(settings.index.dir)], columns=80, cwd=ROOT, env=env)
    try:
        assert terminal.wait(timeout=60) == 0
        shown = terminal.read_until(r"Other answers:(?s:.*)score [0-9.]+\s*$", timeout=5)
        shown = shown[shown.index("“"):]
    finally:
        terminal.close()
    _words_intact(shown, "“Russia’s Foreign Minister Sergei Lavrov has announced an end to "
                         "‘reset’ in Russian-American relations, while also acknowledging its "
                         "positive impact and adding that Russia wanted constructive "
                         "interaction with the U.S.”")
    first = shown.splitlines()[0]
    assert first == "“Russia’s Foreign Minister Sergei Lavrov has announced an end to ‘reset’ in"


def test_history_suggests_a_question_asked_before(repl):
    repl.type("What is the Dima Yakovlev Law?\r")
    repl.read_until(r"score [0-9.]+")
    repl.read_until(PROMPT)
    repl.type("What is the D")
    repl.read_until(r"What is the Dima Yakovlev Law\?")   # the rest, suggested in grey
    repl.type("\x1b[C\r")                                  # → takes it; Enter asks it
    shown = repl.read_until(r"score [0-9.]+")
    assert "Dima Yakovlev Law,’ which introduced a ban" in " ".join(shown.split())


def test_a_follow_up_shows_its_hint_and_new_starts_afresh(repl):
    repl.type("What is the Dima Yakovlev Law?\r")
    repl.read_until(r"score [0-9.]+")
    repl.read_until(PROMPT)
    repl.type("And who signed it?\r")
    shown = repl.read_until(r"score [0-9.]+")
    assert "read as a follow-up to “What is the Dima Yakovlev Law?”" in " ".join(shown.split())
    assert "President Putin signed into force" in " ".join(shown.split())
    repl.read_until(PROMPT)
    repl.type(":new\r")
    repl.read_until(r"New conversation")
    repl.read_until(PROMPT)
    repl.type("And who signed it?\r")
    shown = repl.read_until(r"No answer")
    assert "follow-up" not in shown
