"""``/add url:<link>``: members with Manage Server add a news article by its link.

The bot fetches the page, adds it to the corpus directory (``retrieval.ingest``), brings the
index up to date and replies privately with the title, outlet and date it found; the article
is answerable at once. Every failure (not a page, no article text, a timeout, too large)
is one polite line. The work runs in a thread: questions go on meanwhile."""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render
from bot.discord.cog import QACog, sentence
from retrieval.dates import human_date
from retrieval.errors import QABotError
from retrieval.ingest.add import Ingester
from retrieval.ingest.fetch import is_url
from retrieval.ingest.records import Outcome
from retrieval.ingest.store import article_file_name

if TYPE_CHECKING:
    from bot.discord.app import QABot

log = logging.getLogger(__name__)

COULD_NOT_ADD = "I couldn't add that link: {why}"


class IngestCog(commands.Cog, name="Ingestion"):
    """Adds articles to the corpus."""

    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        self.lock = asyncio.Lock()    # one add at a time: each sees the articles before it

    @app_commands.command(name="add", description="Add a news article by its link "
                                                   "(Manage Server).")
    @app_commands.describe(url="The article's link (http or https)")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(self, interaction: discord.Interaction, url: str) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.lock:
            text = await asyncio.to_thread(self.add_link, url.strip())
        log.info("/add by %s of %s: %s", interaction.user.id, url, text)
        await interaction.followup.send(render.fit_content(text), ephemeral=True,
                                        allowed_mentions=render.NO_PINGS)

    async def cog_app_command_error(self, interaction: discord.Interaction,
                                    error: app_commands.AppCommandError) -> None:
        """The same replies as the questions' cog: a missing permission, a failure."""
        await QACog.cog_app_command_error(self, interaction, error)  # type: ignore[arg-type]

    def add_link(self, url: str) -> str:
        """Add the article at ``url`` and reload the service; the reply, one line."""
        settings = self.bot.settings
        if not is_url(url):   # never a file name: a member must not make the bot read files
            return COULD_NOT_ADD.format(why="it is not a link (one starts with https://).")
        try:
            with Ingester(settings.corpus.path, settings.ingest, settings.retrieval.rules(),
                          index=self.bot.service.index,
                          private_addresses=settings.ingest.allow_private_addresses) \
                    as ingester:
                outcome = ingester.add_one(url)
        except QABotError as exc:      # the corpus cannot be added to
            return COULD_NOT_ADD.format(why=sentence(str(exc)))
        if outcome.status != "added":
            return reply_for(outcome)
        try:
            self.bot.service.apply_change([outcome.article],
                                          files=[article_file_name(outcome.article.id)])
        except QABotError as exc:
            return (f"I added “{outcome.article.title}”, but could not update the index, so "
                    f"I keep answering from the previous articles: {sentence(str(exc))}")
        return reply_for(outcome)


def reply_for(outcome: Outcome) -> str:
    """The private reply about one link's outcome."""
    article = outcome.article
    if outcome.status == "failed" or article is None:
        return COULD_NOT_ADD.format(why=sentence(outcome.message))
    found = f"“{article.title}” — {article.source}, {human_date(article.date)}"
    if outcome.status == "duplicate":
        return f"I already have that article: {found}."
    copy = (f" It is a syndicated copy of an article I had ({outcome.origin.syndicated_of})."
            if outcome.origin is not None and outcome.origin.syndicated_of else "")
    return f"Added {found}. You can ask about it now.{copy}"
