"""The README's examples are real runs (issue 10, item 18): its REPL session and its JSON
example are what the bot prints today. When an answer or its wording changes on purpose,
regenerate them with ``python -m tests.test_readme_examples`` and paste its output."""
from __future__ import annotations

import io
import json
import re
import sys

from rich.console import Console

from bot.cli import main
from bot.repl import Repl
from tests.conftest import ROOT

README = ROOT / "README.md"


def _block(after: str) -> str:
    """The fenced block that follows the line ``after`` in the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(after)
    found = re.compile(r"```[a-z]*\n(.*?)\n```", re.S).search(text, start)
    assert found, after
    return found.group(1)


def session(service, settings, questions: list[str]) -> str:
    """The REPL session for ``questions`` as a person sees it (lines not wrapped)."""
    out = io.StringIO()
    console = Console(file=out, highlight=False, soft_wrap=True, color_system=None, width=100)
    repl = Repl(service, settings, console=console)
    report = service.last_load
    shown = [f"qabot — {report.articles} articles, {report.sentences} sentences. Ask a "
             "question, or help."]
    for question in questions:
        out.seek(0)
        out.truncate()
        repl.handle(question)
        shown += [f"? {question}", *out.getvalue().rstrip("\n").split("\n")]
    return "\n".join(shown + ["? ^D", "bye"])


def _readme_questions() -> list[str]:
    lines = _block("These are the bot's actual answers").splitlines()
    return [line[2:] for line in lines if line.startswith("? ") and line != "? ^D"]


def test_the_readme_repl_session_is_real(service, settings):
    assert _block("These are the bot's actual answers") == session(service, settings,
                                                                   _readme_questions())


def test_the_readme_json_example_is_real(capsys, settings):
    example = json.loads(_block("The JSON of `qabot ask --json`"))
    assert main(["ask", example["question"], "--json",
                 "--index-dir", str(settings.index.dir)]) == 0
    assert json.loads(capsys.readouterr().out) == example


def _markdown_as_read(text: str) -> str:
    """Discord markdown as a reader sees it: bold marks and escapes gone, a link as its
    label followed by where it leads."""
    text = re.sub(r"\[(.+?)\]\((\S+?)\)", r"\1  ← links to \2", text)
    return re.sub(r"\\(.)", r"\1", text.replace("**", ""))


def discord_answer(service, question: str) -> str:
    """The Discord bot's answer embed to ``question``, rendered as text (as in the README)."""
    from bot.discord.render import answer_embed
    from bot.discord.views import AnswerView

    result = service.ask(question)
    embed = answer_embed(result)
    lines = [*(embed.description or "").split("\n")]
    for embed_field in embed.fields:
        lines += ["", str(embed_field.name), *_markdown_as_read(str(embed_field.value)).split("\n")]
    if embed.footer.text:
        lines += ["", embed.footer.text]
    shown = [("┃ " + line).rstrip() for line in lines]
    buttons = [item.__discord_ui_model_kwargs__["label"]          # as the decorators set them
               for item in AnswerView.__view_children_items__.values()]  # type: ignore[attr-defined]
    return "\n".join(shown + ["  ".join(f"[ {label} ]" for label in buttons)])


def test_the_readme_discord_example_is_real(service):
    example = _block("An answer looks like this")
    assert example == discord_answer(service, "What is the Dima Yakovlev Law?")


if __name__ == "__main__":   # print the README's examples as the bot gives them now
    from retrieval.service import QAService
    from retrieval.settings import load_settings
    settings = load_settings(environ={}).with_overrides(**{"repl.history_file": None})
    service = QAService(settings)
    sys.stdout.write(session(service, settings, _readme_questions()) + "\n\n")
    sys.stdout.write(discord_answer(service, "What is the Dima Yakovlev Law?") + "\n")
