"""Write the analyser's table of irregular verb forms (``retrieval/verb_forms.json``) from
LemmInflect's dictionary (MIT licence; in the ``bench`` extra, not needed by the bot).

A form is in the table when LemmInflect knows it as a verb form and the Snowball stem of the
form differs from the stem of its verb ("said" → "say", "met" → "meet", "did" → "do"): the
forms stemming alone cannot join to their verb. Regular forms ("mentioned") are left to the
stemmer, which gives them the same term. The bot reads the table in a millisecond; LemmInflect
itself parses 80,000 lines on first use (0.2-0.5 s).

    python -m benchmarks.verb_forms [--out PATH]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import Stemmer

from retrieval.analysis import VERB_FORMS_FILE

_WORD = re.compile(r"[^\W_]+")


def irregular_verb_forms() -> dict[str, str]:
    """Every lower-case single-word verb form LemmInflect knows whose stem is not its verb's."""
    from importlib.metadata import version

    from lemminflect.core.Lemmatizer import Lemmatizer
    stemmer = Stemmer.Stemmer("english")
    table = {}
    for word, lemmas in Lemmatizer()._getLemmaDict().items():
        verbs = lemmas.get("VERB")
        if not verbs or word != word.casefold() or not _WORD.fullmatch(word):
            continue
        verb = verbs[0].casefold()
        if _WORD.fullmatch(verb) and stemmer.stemWord(word) != stemmer.stemWord(verb):
            table[word] = verb
    print(f"{len(table)} forms from LemmInflect {version('lemminflect')}")
    return dict(sorted(table.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=VERB_FORMS_FILE)
    args = parser.parse_args(argv)
    from importlib.metadata import version
    forms = irregular_verb_forms()
    args.out.write_text(json.dumps({
        "about": f"irregular verb forms and their verb, from LemmInflect "
                 f"{version('lemminflect')} (MIT licence) by benchmarks/verb_forms.py",
        "forms": forms}, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
