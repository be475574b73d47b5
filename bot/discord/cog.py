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
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord import render
from bot.discord.views import APOLOGY, AnswerView
from bot.filters import FilterError, corpus_filters
from retrieval.answerer import Filters, Result
from retrieval.conversation import Conversation
from retrieval.errors import QABotError, QuestionError

if TYPE_CHECKING:
    from bot.discord.app import QABot

log = logging.getLogger(__name__)

EMPTY_MENTION = ("Ask me a question about the articles, e.g. "
                 "“@{name} What is the Dima Yakovlev Law?”, or use /ask.")
NOT_IN_DMS = "I don't answer in direct messages here. Ask me in a server channel."
NOT_HERE = "I don't answer in this channel. Ask me in one of: {channels}."
MISSING_PERMISSION = "Only members with the Manage Server permission can use /{command}."
NEW_CONVERSATION = "New conversation: your next question is read on its own."
NO_CONVERSATION = "There was no conversation to end: your next question is read on its own."
MAX_REMEMBERED_ANSWERS = 1000   # answers whose conversation a reply can continue


# Discord's markup for mentions (a user, a role, a channel, everyone), custom emoji, slash
# commands and timestamps: it addresses people or decorates, and its ids would read as
# numbers the question asks about.
_MARKUP = re.compile(r"<(?:@[!&]?|#)\d+>|<a?:\w+:\d+>|</[^>\s]+:\d+>|<t:-?\d+(?::\w)?>|"
                     r"@(?:everyone|here)\b")


def question_text(content: str) -> str:
    """A message's or a slash command's words as the question: Discord's markup removed,
    white space collapsed."""
    return " ".join(_MARKUP.sub(" ", content).split())


@dataclass(frozen=True)
class Reply:
    """What the bot sends back: text or an embed, and perhaps buttons."""

    content: str | None = None
    embed: discord.Embed | None = None
    view: AnswerView | None = None
    conversation: Conversation | None = None   # the asker's conversation after this answer

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
        # Conversations, in memory only: one per (user, channel or thread), and the one each
        # of the bot's answers belongs to, so that replying to an answer continues it.
        self.conversations: dict[tuple[int, int], Conversation] = {}
        self.answered_in: OrderedDict[int, tuple[tuple[int, int], Conversation]] = OrderedDict()

    # ------------------------------------------------------------------- conversations
    def conversation_for(self, user_id: int, channel_id: int,
                         replied_to: int | None = None) -> tuple[tuple[int, int], Conversation]:
        """The conversation a question belongs to: the one of the bot's answer it replies
        to, else the asker's own in this channel (empty once idle too long)."""
        settings, now = self.bot.settings.conversation, time.time()
        key = (user_id, channel_id)
        if replied_to is not None and replied_to in self.answered_in:
            key, conversation = self.answered_in[replied_to]
            key = (user_id, key[1])
        else:
            conversation = self.conversations.get(key, Conversation())
        return key, conversation.active(now, settings)

    def remember(self, key: tuple[int, int], conversation: Conversation | None,
                 message_id: int | None) -> None:
        """Keep ``conversation`` as the asker's, and as the one of the answer ``message_id``;
        forget conversations that have gone idle, and all but the last answers'."""
        if conversation is None:
            return
        settings, now = self.bot.settings.conversation, time.time()
        self.conversations = {k: c for k, c in self.conversations.items()
                              if c.active(now, settings).turns}
        self.conversations[key] = conversation
        if message_id is not None:
            self.answered_in[message_id] = (key, conversation)
            while len(self.answered_in) > MAX_REMEMBERED_ANSWERS:
                self.answered_in.popitem(last=False)

    def forget(self, user_id: int, channel_id: int) -> bool:
        """Start the user's conversation in this channel afresh; True if there was one."""
        return self.conversations.pop((user_id, channel_id), None) is not None

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
    async def answer(self, question: str, filters: Filters | None = None,
                     conversation: Conversation | None = None) -> Result:
        """Ask the core in the bot's executor, so the event loop keeps running."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.bot.executor, functools.partial(self.bot.service.ask, question, None, filters,
                                                 conversation))

    async def reply_to(self, question: str, filters: Filters | None, asker_id: int,
                       conversation: Conversation | None = None) -> Reply:
        """The reply to one question (inside ``conversation`` when given). Never raises: a
        bad question gets its explanation, a failure is logged with its traceback and gets
        an apology."""
        try:
            result = await self.answer(question_text(question), filters, conversation)
        except QuestionError as exc:
            return Reply(content=sentence(str(exc)))
        except Exception:
            log.exception("failed to answer %r", question)
            return Reply(content=APOLOGY)
        if result.unavailable:      # for the operator: a shard of the cluster is down
            log.warning("%r was not answered: %s", question, result.message)
        after = (conversation.add(result.turn, self.bot.settings.conversation)
                 if conversation is not None and result.turn is not None else None)
        return Reply(embed=render.answer_embed(result),
                     view=AnswerView.for_result(result, asker_id), conversation=after)

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
        return question_text(message.content)

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
        replied_to = message.reference.message_id if message.reference is not None else None
        key, conversation = self.conversation_for(message.author.id, message.channel.id,
                                                  replied_to)
        reply = await self.reply_to(question, None, message.author.id, conversation)
        sent = await self.send_reply(message, reply)
        self.remember(key, reply.conversation, sent.id if sent is not None else None)

    async def send_reply(self, message: discord.Message, reply: Reply) -> discord.Message | None:
        """Reply to ``message`` (in its thread when it is in one) without pinging anyone."""
        try:
            sent = await message.channel.send(
                reference=message.to_reference(fail_if_not_exists=False),
                mention_author=False, **reply.kwargs())  # type: ignore[arg-type]
        except discord.HTTPException as exc:
            log.warning("could not reply in channel %s: %s", message.channel.id, exc)
            return None
        if reply.view is not None:
            reply.view.message = sent
        return sent

    # -------------------------------------------------------------------- slash commands
    @app_commands.command(name="ask", description="Ask a question about the news articles.")
    @app_commands.describe(question="Your question, e.g. What is the Dima Yakovlev Law?",
                           source="Only articles from this outlet",
                           year="Only articles published in this year",
                           new="Start a new conversation (don't read this as a follow-up)")
    async def ask(self, interaction: discord.Interaction, question: str,
                  source: str | None = None,
                  year: app_commands.Range[int, 1800, 2200] | None = None,
                  new: bool = False) -> None:
        refusal = self.refusal(interaction.channel)
        if refusal is not None:
            await interaction.response.send_message(refusal, ephemeral=True,
                                                    allowed_mentions=render.NO_PINGS)
            return
        try:   # the CLI's and the REPL's rules: a unique prefix, a did-you-mean, the years
            filters = corpus_filters(source, year, self.bot.service)
        except FilterError as exc:
            await interaction.response.send_message(
                render.fit_content(sentence(str(exc)) + " See /sources."),
                ephemeral=True, allowed_mentions=render.NO_PINGS)
            return
        wait = self.retry_after(interaction.user)
        if wait is not None:
            await interaction.response.send_message(cooldown_message(wait), ephemeral=True,
                                                    allowed_mentions=render.NO_PINGS)
            return
        await interaction.response.defer(thinking=True)
        channel_id = interaction.channel.id if interaction.channel is not None else 0
        if new:
            self.forget(interaction.user.id, channel_id)
        key, conversation = self.conversation_for(interaction.user.id, channel_id)
        reply = await self.reply_to(question, filters, interaction.user.id, conversation)
        sent = await interaction.followup.send(wait=True, **reply.kwargs())  # type: ignore[call-overload]
        if reply.view is not None:
            reply.view.message = sent
        self.remember(key, reply.conversation, getattr(sent, "id", None))

    @app_commands.command(name="new", description="Start a new conversation: your next "
                                                   "question is read on its own.")
    async def new(self, interaction: discord.Interaction) -> None:
        channel_id = interaction.channel.id if interaction.channel is not None else 0
        had = self.forget(interaction.user.id, channel_id)
        await interaction.response.send_message(
            NEW_CONVERSATION if had else NO_CONVERSATION, ephemeral=True,
            allowed_mentions=render.NO_PINGS)

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
