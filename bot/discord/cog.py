"""The one feature of the bot: answering questions, by @mention or ``/ask``.

The cog translates Discord events into calls of ``QAService`` and its ``Result`` into
messages. It decides only Discord matters: who may ask where and how often, how to reply,
and that retrieval (CPU work) runs in the bot's executor, off the event loop."""
from __future__ import annotations

import asyncio
import functools
import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render
from bot.discord.views import APOLOGY, AnswerView
from retrieval.answerer import Filters, Result
from retrieval.errors import QABotError, QuestionError

if TYPE_CHECKING:
    from bot.discord.app import QABot

log = logging.getLogger(__name__)

EMPTY_MENTION = ("Ask me a question about the articles, e.g. "
                 "“@{name} What is the Dima Yakovlev Law?”, or use /ask.")
NOT_IN_DMS = "I don't answer in direct messages here. Ask me in a server channel."
NOT_HERE = "I don't answer in this channel. Ask me in one of: {channels}."
MISSING_PERMISSION = "Only members with the Manage Server permission can use /{command}."


@dataclass(frozen=True)
class Reply:
    """What the bot sends back: text or an embed, and perhaps buttons."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: AnswerView | None = None

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``send``: within limits, pinging nobody."""
        sent: dict[str, object] = {"allowed_mentions": render.NO_PINGS}
        if self.content is not None:
            sent["content"] = render.fit_content(self.content)
        if self.embed is not None:
            sent["embed"] = self.embed
        if self.view is not None:
            sent["view"] = self.view
        return sent


def sentence(text: str) -> str:
    """A message of the core as a sentence: capital first letter, final full stop."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def cooldown_message(retry_after: float) -> str:
    seconds = max(1, math.ceil(retry_after))
    return (f"You're asking faster than I can keep up with. Please try again in {seconds} "
            f"second{'s' if seconds != 1 else ''}.")


class QACog(commands.Cog, name="Questions"):
    """Answers questions about the articles."""

    def __init__(self, bot: QABot) -> None:
        self.bot = bot
        settings = bot.settings.discord
        self.cooldown: commands.CooldownMapping[int] = commands.CooldownMapping.from_cooldown(
            settings.cooldown_questions, settings.cooldown_seconds, lambda user_id: user_id)

    # ------------------------------------------------------------------------ gatekeeping
    def refusal(self, channel: discord.abc.Messageable | None) -> str | None:
        """Why the bot does not answer in ``channel`` (a message for the asker), or None."""
        settings = self.bot.settings.discord
        if channel is None or isinstance(channel, (discord.DMChannel, discord.GroupChannel)):
            return None if settings.answer_in_dms else NOT_IN_DMS
        allowed = settings.allowed_channels
        if not allowed:
            return None
        ids = {getattr(channel, "id", None), getattr(channel, "parent_id", None)}  # threads too
        if ids & set(allowed):
            return None
        return NOT_HERE.format(channels=", ".join(f"<#{c}>" for c in allowed))

    def retry_after(self, user: discord.abc.User) -> float | None:
        """Seconds the user must wait before asking again, or None when they may ask now
        (which counts the question)."""
        bucket = self.cooldown.get_bucket(user.id)
        return bucket.update_rate_limit() if bucket is not None else None

    # ---------------------------------------------------------------------------- asking
    async def answer(self, question: str, filters: Filters | None = None) -> Result:
        """Ask the core in the bot's executor, so the event loop keeps running."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.bot.executor, functools.partial(self.bot.service.ask, question, None, filters))

    async def reply_to(self, question: str, filters: Filters | None, asker_id: int) -> Reply:
        """The reply to one question. Never raises: a bad question gets its explanation, a
        failure is logged with its traceback and gets an apology."""
        try:
            result = await self.answer(question, filters)
        except QuestionError as exc:
            return Reply(content=sentence(str(exc)))
        except Exception:
            log.exception("failed to answer %r", question)
            return Reply(content=APOLOGY)
        return Reply(embed=render.answer_embed(result), view=AnswerView.for_result(result, asker_id))

    # ----------------------------------------------------------------------- @mentions
    def question_in(self, message: discord.Message) -> str | None:
        """The question a message asks the bot, or None when it is not addressed to it.
        In a server a message must mention the bot (such messages carry their content
        without the message-content intent); in a DM every message is a question."""
        me = self.bot.user
        if me is None:
            return None
        guild = message.guild
        own_role = guild.self_role if guild is not None else None
        mentioned = any(user.id == me.id for user in message.mentions) or (
            own_role is not None and own_role in message.role_mentions)
        if guild is not None and not mentioned:
            return None
        pattern = rf"<@!?{me.id}>" + (rf"|<@&{own_role.id}>" if own_role is not None else "")
        return " ".join(re.sub(pattern, " ", message.content).split())

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot or message.author == self.bot.user:
            return
        question = self.question_in(message)
        if question is None:
            return
        refusal = self.refusal(message.channel)
        if refusal is not None:
            if message.guild is None:         # in a server channel the bot stays silent
                await self.send_reply(message, Reply(content=refusal))
            return
        if not question:
            name = self.bot.user.display_name if self.bot.user else "me"
            await self.send_reply(message, Reply(content=EMPTY_MENTION.format(name=name)))
            return
        wait = self.retry_after(message.author)
        if wait is not None:
            await self.send_reply(message, Reply(content=cooldown_message(wait)))
            return
        reply = await self.reply_to(question, None, message.author.id)
        await self.send_reply(message, reply)

    async def send_reply(self, message: discord.Message, reply: Reply) -> None:
        """Reply to ``message`` (in its thread when it is in one) without pinging anyone."""
        try:
            sent = await message.channel.send(
                reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False, **reply.kwargs())  # type: ignore[arg-type]
        except discord.HTTPException as exc:
            log.warning("could not reply in channel %s: %s", message.channel.id, exc)
            return
        if reply.view is not None:
            reply.view.message = sent

    # -------------------------------------------------------------------- slash commands
    @app_commands.command(name="ask", description="Ask a question about the news articles.")
    @app_commands.describe(question="Your question, e.g. What is the Dima Yakovlev Law?",
                           source="Only articles from this outlet",
                           year="Only articles published in this year")
    async def ask(self, interaction: discord.Interaction, question: str,
                  source: str | None = None,
                  year: app_commands.Range[int, 1800, 2200] | None = None) -> None:
        refusal = self.refusal(interaction.channel)
        if refusal is not None:
            await interaction.response.send_message(refusal, ephemeral=True,
                                                    allowed_mentions=render.NO_PINGS)
            return
        if source is not None and source.casefold() not in {
                s.casefold() for s in self.bot.service.sources()}:
            await interaction.response.send_message(
                render.fit_content(f"No articles come from “{source}”. Pick a source from the "
                                   "list, or see /sources."),
                ephemeral=True, allowed_mentions=render.NO_PINGS)
            return
        wait = self.retry_after(interaction.user)
        if wait is not None:
            await interaction.response.send_message(cooldown_message(wait), ephemeral=True,
                                                    allowed_mentions=render.NO_PINGS)
            return
        await interaction.response.defer(thinking=True)
        reply = await self.reply_to(question, Filters(source=source, year=year),
                                    interaction.user.id)
        sent = await interaction.followup.send(wait=True, **reply.kwargs())  # type: ignore[call-overload]
        if reply.view is not None:
            reply.view.message = sent

    @ask.autocomplete("source")
    async def source_autocomplete(self, interaction: discord.Interaction,
                                  current: str) -> list[app_commands.Choice[str]]:
        typed = current.casefold()
        return [app_commands.Choice(name=source[:100], value=source[:100])
                for source in self.bot.service.sources() if typed in source.casefold()][:25]

    @app_commands.command(name="sources", description="List the articles the bot answers from.")
    async def sources(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(
            embed=render.sources_embed(self.bot.service.articles), ephemeral=True,
            allowed_mentions=render.NO_PINGS)

    @app_commands.command(name="reload",
                          description="Reload the articles and rebuild the index (Manage Server).")
    @app_commands.describe(force="Rebuild the index even if the articles did not change")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def reload(self, interaction: discord.Interaction, force: bool = False) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:  # in a thread of its own: questions go on, answered from the old index
            report = await asyncio.to_thread(self.bot.service.reload, force_rebuild=force)
        except QABotError as exc:
            text = f"Reload failed, I keep answering from the previous articles: {exc}"
        else:
            text = (f"Reloaded {report.articles} articles ({report.passages} passages, "
                    f"{report.sentences} sentences) in {report.seconds:.2f} s: "
                    f"{'index rebuilt' if report.rebuilt else 'index unchanged'} ({report.reason}).")
            log.info("reloaded by %s: %s", interaction.user.id, text)
        await interaction.followup.send(render.fit_content(text), ephemeral=True,
                                        allowed_mentions=render.NO_PINGS)

    async def cog_app_command_error(self, interaction: discord.Interaction,
                                    error: app_commands.AppCommandError) -> None:
        command = interaction.command.name if interaction.command else "this command"
        if isinstance(error, app_commands.MissingPermissions):
            text = MISSING_PERMISSION.format(command=command)
        elif isinstance(error, app_commands.NoPrivateMessage):
            text = f"/{command} works only in a server."
        else:
            log.exception("error in /%s", command, exc_info=error)
            text = APOLOGY
        send = (interaction.followup.send if interaction.response.is_done()
                else interaction.response.send_message)
        try:
            await send(text, ephemeral=True, allowed_mentions=render.NO_PINGS)
        except discord.HTTPException:
            log.warning("could not tell %s about the error in /%s", interaction.user.id, command)
