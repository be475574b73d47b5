"""The ``--source`` / ``--year`` filters (and the REPL's ``:source`` / ``:year``) checked
against the corpus: an outlet the articles do not have, or a year they do not cover, is
said plainly with what there is, instead of "the articles do not seem to cover this"."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from retrieval.answerer import Filters
from retrieval.errors import QABotError
from retrieval.service import QAService


class FilterError(QABotError):
    """A filter names an outlet or a year the corpus does not have."""


def resolve_source(name: str, known: Sequence[str]) -> str:
    """The outlet of ``known`` that ``name`` means: the same name in any case, or the only
    one it begins (``hindu`` is not a prefix, ``the hindu`` and ``kyiv`` are). Raises
    ``FilterError`` naming the known outlets, with the nearest one when it looks like a typo."""
    wanted = " ".join(name.split()).casefold()
    if not wanted:
        raise FilterError("the source is empty; the articles are from: " + _listing(known))
    exact = [s for s in known if s.casefold() == wanted]
    if exact:
        return exact[0]
    prefixed = [s for s in known if s.casefold().startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise FilterError(f"the source {name!r} could be {_listing(prefixed, ' or ')}; "
                          "give more of its name")
    near = difflib.get_close_matches(wanted, [s.casefold() for s in known], n=1, cutoff=0.6)
    hint = ""
    if near:
        hint = f" (did you mean {next(s for s in known if s.casefold() == near[0])!r}?)"
    contained = [s for s in known if wanted in s.casefold()]
    if not hint and len(contained) == 1:
        hint = f" (did you mean {contained[0]!r}?)"
    raise FilterError(f"unknown source {name!r}{hint}; the articles are from: {_listing(known)}")


def plain_number(text: str) -> int | None:
    """``text`` as a whole number when it is written in the digits 0-9 alone, else None: no
    sign, space or underscore, and no digits of other scripts ("٣", "５"), all of which
    ``int`` would take. Every number a person types (``--top-k``, ``--year``, ``:k``) is read
    so."""
    return int(text) if text.isascii() and text.isdigit() else None


def check_year(year: int, known: Iterable[int]) -> int:
    """``year`` when some article was published in it; else ``FilterError`` naming the
    years the articles cover."""
    years = sorted(set(known))
    if year in years:
        return year
    listed = ", ".join(str(y) for y in years) or "none (no article has a date)"
    raise FilterError(f"no article was published in {year}; the articles are from: {listed}")


def corpus_years(service: QAService) -> list[int]:
    """The years in which the corpus's articles were published, sorted."""
    return service.years()


def corpus_filters(source: str | None, year: int | None, service: QAService) -> Filters:
    """``Filters`` for the given ``--source``/``--year`` checked against the corpus."""
    if source is not None:
        source = resolve_source(source, service.sources())
    if year is not None:
        year = check_year(year, corpus_years(service))
    return Filters(source, year)


def _listing(names: Iterable[str], last: str = ", ") -> str:
    names = list(names)
    if len(names) < 2:
        return "".join(names)
    return ", ".join(names[:-1]) + last + names[-1]
