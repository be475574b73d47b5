"""Slash commands and buttons, called with a stand-in interaction (dpytest has no
slash-command support), and the command tree Discord would receive."""
from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest
from discord import app_commands

from bot.discord.app import QABot
from bot.discord.cog import QACog
from bot.discord.views import AnswerView
from retrieval.dates import human_date
from retrieval.service import QAService
from tests.discord_fixtures import (DIMA_QUESTION, DIMA_SENTENCE, FakeInteraction, FakeUser,
                                    offline_bot, refused_without_manage_server, test_settings)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    return QAService(test_settings(tmp_path_factory.mktemp("discord-commands") / "index"))


async def make_bot(service: QAService, **overrides: object) -> QABot:
    bot = offline_bot(service, **overrides)
    await bot._async_setup_hook()
    await bot.setup_hook()
    return bot


@pytest.fixture
async def bot(service: QAService) -> AsyncIterator[QABot]:
    bot = await make_bot(service)
    yield bot
    bot.executor.shutdown()


def cog(bot: QABot) -> QACog:
    found = bot.get_cog("Questions")
    assert isinstance(found, QACog)
    return found


def no_pings(mentions: discord.AllowedMentions) -> bool:
    return not (mentions.everyone or mentions.users or mentions.roles or mentions.replied_user)


# ---------------------------------------------------------------------------- the tree
def test_the_command_tree(bot: QABot) -> None:
    commands = {c.name: c for c in bot.tree.get_commands()}
    assert set(commands) == {"ask", "sources", "reload", "new", "add"}
    ask = commands["ask"]
    assert isinstance(ask, app_commands.Command)
    options = {p.name: p for p in ask.parameters}
    assert list(options) == ["question", "source", "year", "new"]
    assert options["question"].required and not options["source"].required
    assert not options["year"].required and options["year"].type is discord.AppCommandOptionType.integer
    assert options["source"].autocomplete
    for command in commands.values():
        payload = command.to_dict(bot.tree)
        assert 1 <= len(payload["description"]) <= 100
        assert all(1 <= len(o["description"]) <= 100 for o in payload["options"])
    reload = commands["reload"]
    assert isinstance(reload, app_commands.Command)
    assert reload.default_permissions is not None and reload.default_permissions.manage_guild
    assert reload.guild_only
    assert reload.checks, "the permission is checked at run time too, not only by default"
    assert commands["ask"].default_permissions is None


async def test_reload_refuses_members_without_manage_server(bot: QABot) -> None:
    reload = bot.tree.get_command("reload")
    assert isinstance(reload, app_commands.Command)
    sent = await refused_without_manage_server(reload, cog(bot))
    assert "Manage Server" in sent.args[0] and sent.kwargs["ephemeral"]


# ------------------------------------------------------------------------------- /ask
async def test_ask_defers_at_once_then_answers_with_the_embed(bot: QABot,
                                                              service: QAService) -> None:
    expected = service.ask(DIMA_QUESTION).answer
    assert expected is not None
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, DIMA_QUESTION)  # type: ignore[arg-type]
    assert interaction.calls[0].how == "defer"
    sent = interaction.sent()
    assert sent.how == "followup"
    embed = sent.kwargs["embed"]
    assert DIMA_SENTENCE in embed.description and expected.text in embed.description
    assert expected.source in embed.fields[0].value
    assert human_date(expected.date) in embed.fields[0].value
    assert no_pings(sent.kwargs["allowed_mentions"])
    assert isinstance(sent.kwargs["view"], AnswerView)


async def test_ask_passes_the_filters_to_the_core(bot: QABot, service: QAService) -> None:
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, "What did Lavrov announce about the reset in relations?",  # type: ignore[arg-type]
                                source="the hindu", year=2013)
    embed = interaction.sent().kwargs["embed"]
    assert "The Hindu" in embed.fields[0].value and "2013" in embed.fields[0].value


async def test_ask_with_an_unknown_source_says_so_privately(bot: QABot) -> None:
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, "reset", source="Pravda")  # type: ignore[arg-type]
    sent = interaction.sent()
    assert sent.how == "send_message" and sent.kwargs["ephemeral"]
    assert "Pravda" in sent.args[0] and "/sources" in sent.args[0]


async def test_ask_takes_a_source_prefix_and_says_which_years_there_are(bot: QABot) -> None:
    """/ask follows the CLI's rules for filters: a unique prefix in any case is the outlet,
    a near name gets a did-you-mean, a year no article has lists the years."""
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, DIMA_QUESTION, source="rt")  # type: ignore[arg-type]
    assert "RT" in interaction.sent().kwargs["embed"].fields[0].value
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, DIMA_QUESTION, source="Hindu")  # type: ignore[arg-type]
    sent = interaction.sent()
    assert sent.kwargs["ephemeral"] and "The Hindu" in sent.args[0]
    interaction = FakeInteraction()
    await cog(bot).ask.callback(cog(bot), interaction, DIMA_QUESTION, year=1999)  # type: ignore[arg-type]
    sent = interaction.sent()
    assert sent.kwargs["ephemeral"] and "2013" in sent.args[0] and "1999" in sent.args[0]


async def test_ask_cooldown_is_shared_per_user_and_private(service: QAService) -> None:
    bot = await make_bot(service, **{"discord.cooldown_questions": 1,
                                     "discord.cooldown_seconds": 30.0})
    try:
        first, second = FakeInteraction(), FakeInteraction()
        await cog(bot).ask.callback(cog(bot), first, DIMA_QUESTION)  # type: ignore[arg-type]
        await cog(bot).ask.callback(cog(bot), second, DIMA_QUESTION)  # type: ignore[arg-type]
        sent = second.sent()
        assert sent.how == "send_message" and sent.kwargs["ephemeral"]
        assert "try again in" in sent.args[0] and "30 seconds" in sent.args[0]
        other = FakeInteraction(user=FakeUser(id=7))
        await cog(bot).ask.callback(cog(bot), other, DIMA_QUESTION)  # type: ignore[arg-type]
        assert other.sent().how == "followup"
    finally:
        bot.executor.shutdown()


async def test_ask_in_a_dm_when_dms_are_off(service: QAService) -> None:
    bot = await make_bot(service, **{"discord.answer_in_dms": False})
    try:
        interaction = FakeInteraction(channel=discord.DMChannel.__new__(discord.DMChannel))
        await cog(bot).ask.callback(cog(bot), interaction, DIMA_QUESTION)  # type: ignore[arg-type]
        assert "direct messages" in interaction.sent().args[0]
    finally:
        bot.executor.shutdown()


async def test_source_autocomplete(bot: QABot, service: QAService) -> None:
    choices = await cog(bot).source_autocomplete(FakeInteraction(), "TIMES")  # type: ignore[arg-type]
    names = [c.name for c in choices]
    assert names == [s for s in service.sources() if "times" in s.casefold()]
    assert "The Irish Times (Financial Times service)" in names and "RT" not in names
    everything = await cog(bot).source_autocomplete(FakeInteraction(), "")  # type: ignore[arg-type]
    assert len(everything) == len(service.sources())


# --------------------------------------------------------------------- /sources, /reload
async def test_sources_lists_the_articles(bot: QABot, service: QAService) -> None:
    interaction = FakeInteraction()
    await cog(bot).sources.callback(cog(bot), interaction)  # type: ignore[arg-type]
    embed = interaction.sent().kwargs["embed"]
    assert f"({len(service.articles)})" in embed.title
    for article in service.articles:
        assert article.url in embed.description


async def test_reload_reports_the_new_index(bot: QABot, service: QAService) -> None:
    interaction = FakeInteraction()
    await cog(bot).reload.callback(cog(bot), interaction, force=True)  # type: ignore[arg-type]
    assert interaction.calls[0].how == "defer" and interaction.calls[0].kwargs["ephemeral"]
    text = interaction.sent().args[0]
    assert f"Reloaded {len(service.articles)} articles" in text and "index rebuilt" in text
    assert service.ask(DIMA_QUESTION).answer is not None


# ---------------------------------------------------------------------------- buttons
async def test_the_buttons_show_alternatives_and_context_only_to_the_asker(
        bot: QABot, service: QAService) -> None:
    result = service.ask(DIMA_QUESTION)
    view = AnswerView.for_result(result, asker_id=1)
    assert view is not None
    stranger = FakeInteraction(user=FakeUser(id=2))
    assert not await view.interaction_check(stranger)  # type: ignore[arg-type]
    assert stranger.sent().kwargs["ephemeral"]

    asker = FakeInteraction(user=FakeUser(id=1))
    assert await view.interaction_check(asker)  # type: ignore[arg-type]
    await view.more_answers.callback(asker)  # type: ignore[arg-type]
    more = asker.sent()
    assert more.kwargs["ephemeral"] and no_pings(more.kwargs["allowed_mentions"])
    shown = more.kwargs["embed"]
    assert len(shown.fields) == len(result.alternatives)
    for field, alternative in zip(shown.fields, result.alternatives):
        assert alternative.source in field.value

    asker = FakeInteraction(user=FakeUser(id=1))
    await view.context.callback(asker)  # type: ignore[arg-type]
    context = asker.sent().kwargs["embed"].description
    assert result.answer is not None and result.answer.after is not None
    assert f"**{DIMA_SENTENCE}**" in context.replace("\\", "")
    assert result.answer.before in context


def test_no_buttons_when_there_is_nothing_to_show(service: QAService) -> None:
    assert AnswerView.for_result(service.ask("banana spaceship"), asker_id=1) is None
