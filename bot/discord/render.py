"""Results of the core as Discord embeds, always within Discord's limits.

Pure functions: they format a ``Result`` (or an ``Answer``, or the articles) and never rank,
filter or re-score. Text from the corpus or from a user is escaped, so that a quote cannot
turn into markdown, and cut at a sentence or word boundary with an ellipsis when it is too
long, so that Discord never rejects a message. Pings are a matter of ``allowed_mentions``
(see ``NO_PINGS``), not of escaping."""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import discord

from bot.render import confidence_words, followup_hint, visible
from retrieval.answerer import Answer, Result, SourceRef
from retrieval.corpus import Article
from retrieval.dates import human_date

# Discord's limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
CONTENT_LIMIT: Final = 2000
TITLE_LIMIT: Final = 256
DESCRIPTION_LIMIT: Final = 4096
FIELD_NAME_LIMIT: Final = 256
FIELD_VALUE_LIMIT: Final = 1024
FOOTER_LIMIT: Final = 2048
AUTHOR_LIMIT: Final = 256
FIELD_COUNT_LIMIT: Final = 25
EMBED_TOTAL_LIMIT: Final = 6000

ELLIPSIS: Final = "…"
NO_PINGS: Final = discord.AllowedMentions.none()

ANSWER_COLOUR: Final = discord.Colour.blurple()
NO_ANSWER_COLOUR: Final = discord.Colour.orange()

# A sentence ends at . ! or ? (perhaps followed by closing quotes or brackets) before a space.
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s)")
_SHORTEST_CUT = 0.4   # never cut away more than 60% of the room just to end on a boundary


def shorten(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at the last sentence end (or
    else word boundary) that keeps at least 40% of it, followed by an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:max(limit, 0)]
    room = limit - len(ELLIPSIS) - 1          # leave room for " …" after a full sentence
    head = text[:room + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= room]
    if ends and ends[-1] >= _SHORTEST_CUT * room:
        return f"{head[:ends[-1]]} {ELLIPSIS}"
    head = text[:limit - len(ELLIPSIS) + 1]   # one extra: is the cut itself at a space?
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= _SHORTEST_CUT * limit:
        return head[:space].rstrip() + ELLIPSIS
    return head[:-1] + ELLIPSIS


def fit_content(text: str) -> str:
    """Message content within Discord's 2,000 characters."""
    return shorten(text, CONTENT_LIMIT)


def fit_embed(embed: discord.Embed) -> discord.Embed:
    """Cut every part of ``embed`` to Discord's limits, then the whole to 6,000 characters:
    the description gives way first (down to one field's worth), then the last fields."""
    if embed.title:
        embed.title = shorten(embed.title, TITLE_LIMIT)
    if embed.description:
        embed.description = shorten(embed.description, DESCRIPTION_LIMIT)
    if embed.footer.text:
        embed.set_footer(text=shorten(embed.footer.text, FOOTER_LIMIT), icon_url=embed.footer.icon_url)
    if embed.author.name:
        embed.set_author(name=shorten(embed.author.name, AUTHOR_LIMIT), url=embed.author.url,
                         icon_url=embed.author.icon_url)
    while len(embed.fields) > FIELD_COUNT_LIMIT:
        embed.remove_field(-1)
    for i, field in enumerate(embed.fields):
        embed.set_field_at(i, name=shorten(field.name or "", FIELD_NAME_LIMIT) or "\u200b",
                           value=shorten(field.value or "", FIELD_VALUE_LIMIT) or "\u200b",
                           inline=bool(field.inline))
    while len(embed) > EMBED_TOTAL_LIMIT:
        excess = len(embed) - EMBED_TOTAL_LIMIT
        description = embed.description or ""
        if len(description) - excess >= FIELD_VALUE_LIMIT or not embed.fields:
            embed.description = shorten(description, max(len(description) - excess, 0)) or None
        else:
            embed.remove_field(-1)
    return embed


# ----------------------------------------------------------------------------- pieces
def plain(text: str) -> str:
    """User or corpus text shown literally: markdown escaped, whitespace runs collapsed."""
    return discord.utils.escape_markdown(" ".join(visible(text).split()), ignore_links=False)


def blockquote(text: str) -> str:
    """``text`` (already escaped) as a markdown block quote."""
    return "\n".join(f"> {line}" for line in text.splitlines() or [""])


def link(title: str, url: str | None) -> str:
    """The title as a markdown link to ``url`` when it is a web address, else plain."""
    label = plain(title).replace("[", "\\[").replace("]", "\\]")
    if url and url.startswith(("https://", "http://")) and not any(c.isspace() for c in url):
        return f"[{label}]({url.replace('(', '%28').replace(')', '%29')})"
    return label


def citation(ref: Answer | SourceRef) -> str:
    """``**Source** · 4 February 2013`` and, on the next line, the title linked to the URL."""
    return f"**{plain(ref.source)}** · {human_date(ref.date)}\n{link(ref.title, ref.url)}"


def quote_with_citation(answer: Answer, limit: int) -> str:
    """The quoted sentence and its citation, the quote shortened so the whole fits."""
    cite = citation(answer)
    room = max(limit - len(cite) - 4, 0)      # "> " and the blank line before the citation
    return f"{blockquote(shorten(plain(answer.text), room))}\n{cite}"


def confidence(answer: Answer) -> str:
    """The calibrated confidence (a probability) in words and as a percentage."""
    return confidence_words(answer.confidence)


# ----------------------------------------------------------------------------- embeds
def answer_embed(result: Result) -> discord.Embed:
    """The answer to a question (the quote, where it comes from, the confidence), or a short
    friendly message when the articles do not answer it."""
    answer = result.answer
    if answer is None:
        return no_answer_embed(result)
    embed = discord.Embed(colour=ANSWER_COLOUR,
                          description=blockquote(shorten(plain(answer.text), DESCRIPTION_LIMIT - 2)))
    embed.add_field(name="Source", value=citation(answer), inline=False)
    if answer.also_in:
        embed.add_field(name="Also reported by", inline=False,
                        value="\n".join(citation(ref).replace("\n", " · ") for ref in answer.also_in))
    embed.add_field(name="Confidence", value=confidence(answer), inline=True)
    hint = followup_hint(result)
    if hint is not None:
        text = plain(hint[0].upper() + hint[1:]) + " (/new starts afresh)"
        embed.add_field(name="Follow-up", value=shorten(text, FIELD_VALUE_LIMIT), inline=False)
    if result.alternatives:
        embed.set_footer(text=f"{len(result.alternatives)} more answer"
                              f"{'s' if len(result.alternatives) != 1 else ''}: press More answers")
    return fit_embed(embed)


def no_answer_embed(result: Result) -> discord.Embed:
    if result.unavailable:          # a part of the index did not answer: the why, nothing more
        return fit_embed(discord.Embed(colour=NO_ANSWER_COLOUR, description=result.message))
    message = result.message or "The articles do not seem to cover this."
    embed = discord.Embed(colour=NO_ANSWER_COLOUR, title="The articles do not cover this",
                          description=message)
    if result.alternatives:
        embed.set_footer(text="Press More answers to see the closest sentences anyway.")
    else:
        embed.set_footer(text="Hint: ask with words an article would use, drop the source or "
                              "year filter, or see /sources for what the articles cover.")
    return fit_embed(embed)


def alternatives_embed(result: Result) -> discord.Embed:
    """The ranked alternatives (or, with no answer, the closest candidates), one field each."""
    title = "More answers" if result.answer is not None else "Closest sentences (low confidence)"
    embed = discord.Embed(colour=ANSWER_COLOUR, title=title)
    first = 2 if result.answer is not None else 1
    for rank, alt in enumerate(result.alternatives[:FIELD_COUNT_LIMIT], start=first):
        embed.add_field(name=f"{rank}. Confidence: {confidence(alt)}",
                        value=quote_with_citation(alt, FIELD_VALUE_LIMIT), inline=False)
    if not result.alternatives:
        embed.description = "There are no other answers to this question."
    return fit_embed(embed)


def context_embed(answer: Answer) -> discord.Embed:
    """The answer in bold between the sentences around it in its article."""
    parts = [plain(answer.before)] if answer.before else []
    parts.append(f"**{plain(answer.text)}**")
    if answer.after:
        parts.append(plain(answer.after))
    text = " ".join(parts)
    if len(text) > DESCRIPTION_LIMIT:         # keep the answer whole: shorten around it
        side = max((DESCRIPTION_LIMIT - len(parts[-2 if answer.after else -1]) - 4) // 2, 0)
        before = shorten(plain(answer.before), side) if answer.before else ""
        after = shorten(plain(answer.after), side) if answer.after else ""
        text = " ".join(p for p in (before, f"**{plain(answer.text)}**", after) if p)
    embed = discord.Embed(colour=ANSWER_COLOUR, title="Context", description=text)
    embed.add_field(name="Source", value=citation(answer), inline=False)
    return fit_embed(embed)


def sources_embed(articles: Sequence[Article]) -> discord.Embed:
    """The articles of the corpus, one line each, as many as fit."""
    embed = discord.Embed(colour=ANSWER_COLOUR, title=f"Articles in the corpus ({len(articles)})")
    lines: list[str] = []
    used = 0
    for shown, article in enumerate(articles):
        line = f"• **{plain(article.source)}** · {human_date(article.date)} · " \
               f"{link(article.title, article.url)}"
        rest = f"… and {len(articles) - shown} more"
        if used + len(line) + 1 + len(rest) > DESCRIPTION_LIMIT:
            lines.append(rest)
            break
        lines.append(line)
        used += len(line) + 1
    embed.description = "\n".join(lines) or "The corpus is empty."
    return fit_embed(embed)
