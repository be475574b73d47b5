"""Offline helpers for the Discord adapter's tests: the real discord.py bot driven by dpytest
(with the three adaptations of docs/notes on dpytest 0.7 + discord.py 2.7), a record of
every payload the bot sends, and a stand-in for slash-command interactions."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
from discord import app_commands

from bot.discord import QABot, create_bot
from retrieval.service import QAService
from retrieval.settings import Settings, load_settings

DIMA_QUESTION = "What is the Dima Yakovlev Law?"
DIMA_SENTENCE = ("Later, President Putin signed into force the ‘Dima Yakovlev Law,’ which "
                 "introduced a ban against Americans adopting Russian orphans.")


def test_settings(index_dir: Path, **overrides: Any) -> Settings:
    """The default settings and bundled corpus, with the index under ``index_dir``."""
    values = {"index.dir": str(index_dir), **overrides}
    return load_settings(environ={}).with_overrides(**values)


test_settings.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


async def start_offline(bot: QABot, *, members: int = 2) -> list[dict[str, Any]]:
    """Configure dpytest for ``bot`` and return the list that collects the payload of every
    message the bot sends (``allowed_mentions``, ``content``, ``embeds``...)."""
    await bot._async_setup_hook()     # dpytest.configure runs neither of these
    await bot.setup_hook()
    state = bot._connection           # dpytest resolves authors and mentions from the member cache
    state._intents.value |= discord.Intents(members=True).value
    state.member_cache_flags = discord.MemberCacheFlags.from_intents(state._intents)
    allowed_mentions = bot.allowed_mentions
    dpytest.configure(bot, members=members)
    bot._connection.allowed_mentions = allowed_mentions   # configure's fake state drops it

    payloads: list[dict[str, Any]] = []
    http = bot._connection.http
    original = http.send_message

    async def send_message(channel_id: int, *, params: Any) -> Any:
        # dpytest's send_message reads a local named `channel` from its caller's frame
        channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841
        payloads.append(params.payload)
        return await original(channel_id, params=params)

    http.send_message = send_message  # type: ignore[method-assign]
    return payloads


async def stop_offline(bot: QABot) -> None:
    await dpytest.empty_queue()
    bot.executor.shutdown(wait=True)


def offline_bot(service: QAService, **overrides: Any) -> QABot:
    """A bot over ``service`` with some ``discord.*`` settings replaced."""
    settings = service.settings.with_overrides(**overrides) if overrides else service.settings
    return create_bot(settings, service)


# ------------------------------------------------------------------ slash-command stand-ins
@dataclass
class Sent:
    """One call of send/defer on a stand-in interaction."""

    how: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


@dataclass
class FakeResponse:
    calls: list[Sent]
    done: bool = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kwargs: Any) -> None:
        assert not self.done, "an interaction can be responded to only once"
        self.done = True
        self.calls.append(Sent("defer", (), kwargs))

    async def send_message(self, *args: Any, **kwargs: Any) -> None:
        assert not self.done, "an interaction can be responded to only once"
        self.done = True
        self.calls.append(Sent("send_message", args, kwargs))


@dataclass
class FakeFollowup:
    calls: list[Sent]

    async def send(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(Sent("followup", args, kwargs))


@dataclass
class FakeUser:
    id: int = 4242
    name: str = "asker"


@dataclass
class FakeInteraction:
    """Just what the cog's command callbacks use of a ``discord.Interaction``."""

    user: FakeUser = field(default_factory=FakeUser)
    channel: Any = None
    guild: Any = None
    command: Any = None
    calls: list[Sent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.response = FakeResponse(self.calls)
        self.followup = FakeFollowup(self.calls)

    def sent(self) -> Sent:
        """The one message the user saw (the follow-up after a defer, or the response)."""
        shown = [c for c in self.calls if c.how != "defer"]
        assert len(shown) == 1, self.calls
        return shown[0]


async def refused_without_manage_server(command: Any, cog: Any) -> Sent:
    """What a member without the Manage Server permission is told when running ``command``
    (a manage-server command of ``cog``): its run-time checks must refuse them, and the cog's
    error handler must answer."""
    interaction = FakeInteraction()
    interaction.permissions = discord.Permissions(send_messages=True)  # type: ignore[attr-defined]
    with pytest.raises(app_commands.MissingPermissions) as refused:
        for check in command.checks:
            check(interaction)
    interaction.command = command
    await cog.cog_app_command_error(interaction, refused.value)
    return interaction.sent()
