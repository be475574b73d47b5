"""Embeds and texts within Discord's limits, cut at sentence or word boundaries."""
from __future__ import annotations

import discord
import pytest

from bot.discord import render
from retrieval.answerer import Answer, Result, SourceRef
from retrieval.corpus import Article
from retrieval.dates import PartialDate


def answer(text: str, **changes: object) -> Answer:
    values: dict[str, object] = dict(
        text=text, article_id="a", title="Title", source="RT", date=PartialDate(2013, 2),
        url="https://example.org/a", score=0.42, before=None, after=None, paragraph=text)
    return Answer(**{**values, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("limit", [1, 2, 5, 50, 256, 1024, 2000])
def test_shorten_always_fits(limit: int) -> None:
    text = "Word after word, and then a sentence ends. " * 100
    cut = render.shorten(text, limit)
    assert len(cut) <= limit
    assert cut.endswith(render.ELLIPSIS)


def test_shorten_prefers_a_sentence_end() -> None:
    text = "The first sentence is here. The second one is much longer than the room we have."
    assert render.shorten(text, 50) == "The first sentence is here. …"


def test_shorten_falls_back_to_a_word_boundary() -> None:
    text = "one sentence without any end that goes on and on and on"
    cut = render.shorten(text, 30)
    assert cut == "one sentence without any end…"


def test_shorten_cuts_one_long_word_hard() -> None:
    assert render.shorten("x" * 100, 10) == "x" * 9 + render.ELLIPSIS


def test_short_text_is_untouched() -> None:
    assert render.shorten("  Short.  ", 100) == "Short."


def test_fit_embed_enforces_every_limit() -> None:
    embed = discord.Embed(title="t" * 1000, description="d " * 5000)
    embed.set_footer(text="f" * 3000)
    embed.set_author(name="a" * 500)
    for i in range(40):
        embed.add_field(name="n" * 500, value="v " * 1000)
    render.fit_embed(embed)
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert len(embed.author.name or "") <= render.AUTHOR_LIMIT
    assert len(embed.fields) <= render.FIELD_COUNT_LIMIT
    assert all(len(f.name or "") <= render.FIELD_NAME_LIMIT for f in embed.fields)
    assert all(len(f.value or "") <= render.FIELD_VALUE_LIMIT for f in embed.fields)
    assert len(embed) <= render.EMBED_TOTAL_LIMIT


def test_fit_content() -> None:
    assert len(render.fit_content("word " * 1000)) <= render.CONTENT_LIMIT


def test_answer_embed_escapes_markdown_and_links_the_title() -> None:
    embed = render.answer_embed(Result("q", answer("A *bold* claim with `code` and _under_.",
                                                   title="[Brackets] (here)")))
    assert "\\*bold\\*" in (embed.description or "")
    value = embed.fields[0].value or ""
    assert "**RT** · February 2013" in value
    assert "[\\[Brackets\\] (here)](https://example.org/a)" in value


def test_answer_embed_without_url_or_date() -> None:
    embed = render.answer_embed(Result("q", answer("Text of it.", url=None, date=None)))
    assert "date unknown" in (embed.fields[0].value or "")
    assert "](" not in (embed.fields[0].value or "")


def test_answer_embed_names_the_other_sources() -> None:
    ref = SourceRef("b", "Other title", "The Hindu", PartialDate(2013, 1, 23), None)
    embed = render.answer_embed(Result("q", answer("Same sentence.", also_in=(ref,))))
    also = [f for f in embed.fields if f.name == "Also reported by"]
    assert also and "The Hindu" in (also[0].value or "") and "23 January 2013" in (also[0].value or "")


def test_no_answer_embed_points_to_slash_sources() -> None:
    result = Result("q", None, (), "None of the words of the question appear in the articles.")
    embed = render.answer_embed(result)
    assert embed.title == "The articles do not cover this"
    assert embed.description == result.message
    assert "/sources" in (embed.footer.text or "")


def test_context_keeps_the_answer_whole_when_the_neighbours_are_long() -> None:
    long = "Neighbouring words go on. " * 400
    embed = render.context_embed(answer("The answer itself.", before=long, after=long))
    assert "**The answer itself.**" in (embed.description or "")
    assert len(embed) <= render.EMBED_TOTAL_LIMIT


def test_sources_embed_says_how_many_more_when_they_do_not_fit() -> None:
    articles = [Article(id=str(i), title=f"Title {i} " + "x" * 80, source="RT", text="t",
                        url=f"https://example.org/{i}") for i in range(200)]
    embed = render.sources_embed(articles)
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert "more" in (embed.description or "").splitlines()[-1]
