"""The bot itself: ``QABot`` (wires the cog in ``setup_hook``), ``create_bot`` to build it
offline, and ``main`` to run it with a token from the environment or a token file."""
from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import discord
from discord.ext import commands

from bot.discord import render
from bot.discord.cog import QACog
from bot.discord.ingest import IngestCog
from retrieval.errors import QABotError
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings

log = logging.getLogger(__name__)

TOKEN_ENV = "DISCORD_TOKEN"
EXIT_REJECTED = 1
EXIT_NO_TOKEN = 2
_PREFIX = "qabot discord:"


class TokenError(QABotError):
    """No usable bot token: not in the environment, and no readable token file."""


class QABot(commands.Bot):
    """A discord.py bot holding one ``QAService``; the ``QACog`` does the answering.

    Intents are the defaults: no privileged message-content or members intent (messages
    that mention the bot carry their content anyway). Nothing it sends pings anyone."""

    def __init__(self, settings: Settings, service: QAService, *, sync_commands: bool = False,
                 sync_guild: int | None = None, workers: int | None = None) -> None:
        super().__init__(command_prefix=commands.when_mentioned, help_command=None,
                         intents=discord.Intents.default(), allowed_mentions=render.NO_PINGS)
        self.settings = settings
        self.service = service
        self.sync_commands = sync_commands or sync_guild is not None
        self.sync_guild = sync_guild
        self.executor = ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1),
                                           thread_name_prefix="qabot-answer")

    async def setup_hook(self) -> None:
        await self.add_cog(QACog(self))
        await self.add_cog(IngestCog(self))
        if self.sync_commands:
            await self.sync_app_commands()

    async def sync_app_commands(self) -> None:
        """Register the slash commands with Discord: in one guild at once (development), or
        globally (they can take up to an hour to appear in every server)."""
        try:
            if self.sync_guild is not None:
                guild = discord.Object(id=self.sync_guild)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d slash commands to guild %s", len(synced), self.sync_guild)
            else:
                synced = await self.tree.sync()
                log.info("synced %d slash commands globally; new or changed commands can take "
                         "up to an hour to appear", len(synced))
        except discord.HTTPException as exc:
            where = f"guild {self.sync_guild}" if self.sync_guild is not None else "Discord"
            log.error("could not sync the slash commands to %s (%s); is the bot in that guild, "
                      "invited with the applications.commands scope?", where, exc)

    async def on_message(self, message: discord.Message, /) -> None:
        """No text commands: questions are handled by ``QACog.on_message``."""

    async def on_ready(self) -> None:
        log.info("connected as %s (id %s) to %d servers", self.user,
                 self.user.id if self.user else "?", len(self.guilds))

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self.executor.shutdown(wait=False, cancel_futures=True)


def create_bot(config: Settings | None = None, service: QAService | None = None, *,
               sync_commands: bool = False, sync_guild: int | None = None,
               workers: int | None = None) -> QABot:
    """The ready-to-run bot, not connected: ``config`` defaults to ``load_settings()`` (or
    the service's settings) and ``service`` to a ``QAService`` over the configured corpus.
    Slash commands are synced on start only when asked (``sync_commands`` or a guild);
    ``workers`` threads answer questions (default: min(4, CPUs))."""
    if config is None:
        config = service.settings if service is not None else load_settings()
    if service is None:
        service = QAService(config)
    return QABot(config, service, sync_commands=sync_commands, sync_guild=sync_guild,
                 workers=workers)


def read_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The bot token: ``DISCORD_TOKEN``, else the file named by ``discord.token_file``.
    Raises ``TokenError`` with what to do. The token itself never appears in a message."""
    environ = os.environ if environ is None else environ
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    path = settings.discord.token_file
    if path is None:
        raise TokenError(f"no bot token: set the {TOKEN_ENV} environment variable (or "
                         "discord.token_file in your config) to your bot's token from the "
                         "Discord Developer Portal")
    _warn_if_readable_by_others(path)
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenError(f"cannot read the token file {path} ({exc.strerror or exc}); fix "
                         f"discord.token_file or set {TOKEN_ENV}") from None
    except UnicodeDecodeError:
        raise TokenError(f"the token file {path} is not text; it should hold only the bot "
                         "token") from None
    if not token:
        raise TokenError(f"the token file {path} is empty; put the bot token in it or set "
                         f"{TOKEN_ENV}")
    return token


def _warn_if_readable_by_others(path: Path) -> None:
    """Say so, as ssh does for a key, when others than its owner may read the token file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return   # reading it will say what is wrong
    if mode & 0o077:
        log.warning("the token file %s can be read by others (mode %04o): anyone who reads "
                    "it controls the bot; run chmod 600 %s", path, stat.S_IMODE(mode), path)


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns that voice is not supported (PyNaCl, davey): the bot uses no voice."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def main(settings: Settings, sync_guild: int | None) -> int:
    """Run the bot until it is stopped. Returns the exit code: 0 after a normal stop, 2
    without a token, 1 when Discord rejects it or cannot be reached. Problems are one line
    on stderr, never a traceback, and never the token."""
    try:
        token = read_token(settings)
    except TokenError as exc:
        print(f"{_PREFIX} {exc}", file=sys.stderr)
        return EXIT_NO_TOKEN
    if not logging.getLogger().handlers:
        discord.utils.setup_logging(level=logging.INFO)
    logging.getLogger("discord.client").addFilter(_NoVoiceWarnings())
    try:
        bot = create_bot(settings, sync_commands=True, sync_guild=sync_guild)
    except QABotError as exc:
        print(f"{_PREFIX} {exc}", file=sys.stderr)
        return 1
    try:
        asyncio.run(_run(bot, token))
    except discord.LoginFailure:
        print(f"{_PREFIX} Discord rejected the bot token; copy a new one from the Developer "
              f"Portal (your application > Bot > Reset Token) into {TOKEN_ENV} or "
              "discord.token_file", file=sys.stderr)
        return EXIT_REJECTED
    except discord.PrivilegedIntentsRequired:   # we ask for none; kept for a clear message
        print(f"{_PREFIX} Discord refused the requested intents; enable them for the bot in "
              "the Developer Portal", file=sys.stderr)
        return 1
    except (discord.GatewayNotFound, discord.ConnectionClosed, aiohttp.ClientError,
            OSError) as exc:
        print(f"{_PREFIX} cannot reach Discord ({type(exc).__name__}); check the network "
              "and try again", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


async def _run(bot: QABot, token: str) -> None:
    async with bot:
        await bot.start(token)
