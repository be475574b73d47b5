"""The real discord.py bot, driven offline by dpytest: questions by @mention."""
from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest

from bot.render import confidence_words
from bot.discord import render
from bot.discord.app import QABot
from retrieval.answerer import Answer, Filters, Result
from retrieval.dates import PartialDate, human_date
from retrieval.service import QAService
from tests.discord_fixtures import (DIMA_QUESTION, DIMA_SENTENCE, offline_bot, start_offline,
                                    stop_offline, test_settings)

NO_PINGS = {"parse": [], "replied_user": False}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    return QAService(test_settings(tmp_path_factory.mktemp("discord-bot") / "index"))


@pytest.fixture
async def bot(service: QAService) -> AsyncIterator[QABot]:
    bot = offline_bot(service)
    bot.payloads = await start_offline(bot)  # type: ignore[attr-defined]
    yield bot
    await stop_offline(bot)


def mention(bot: QABot, text: str) -> str:
    assert bot.user is not None
    return f"<@{bot.user.id}> {text}"


class StubService:
    """Answers every question with one fixed ``Result``; raises for the question "boom"."""

    def __init__(self, settings: Any, result: Result) -> None:
        self.settings, self.result = settings, result
        self.articles = ()

    def ask(self, question: str, top_k: int | None = None,
            filters: Filters | None = None, conversation: Any = None) -> Result:
        if question == "boom":
            raise RuntimeError("the index caught fire")
        return dataclasses.replace(self.result, question=question)

    def sources(self) -> list[str]:
        return ["RT"]


def an_answer(text: str, **changes: Any) -> Answer:
    values = dict(text=text, article_id="a1", title="A title", source="RT",
                  date=PartialDate(2013, 2, 4), url="https://example.org/a1", score=0.5,
                  before="Before.", after="After.", paragraph=text)
    return Answer(**{**values, **changes})


async def test_a_mention_is_answered_with_the_quote_source_and_date(bot: QABot,
                                                                    service: QAService) -> None:
    expected = service.ask(DIMA_QUESTION)
    assert expected.answer is not None and expected.answer.text == DIMA_SENTENCE

    asked = await dpytest.message(mention(bot, DIMA_QUESTION))

    reply = dpytest.get_message()
    assert reply.reference is not None or bot.payloads[-1]["message_reference"]["message_id"] == asked.id
    embed = reply.embeds[0]
    assert DIMA_SENTENCE in embed.description
    source = embed.fields[0]
    assert source.name == "Source"
    assert "RT" in source.value and "4 February 2013" in source.value
    assert human_date(expected.answer.date) in source.value
    assert expected.answer.url in source.value and "WMD may be key" in source.value
    assert embed.fields[-1].name == "Confidence"
    assert embed.fields[-1].value == confidence_words(expected.answer.confidence)  # not the score
    buttons = [c["label"] for row in bot.payloads[-1]["components"] for c in row["components"]]
    assert buttons == ["More answers", "Context"]


async def test_the_reply_goes_to_the_question_message(bot: QABot) -> None:
    asked = await dpytest.message(mention(bot, DIMA_QUESTION))
    assert bot.payloads[-1]["message_reference"]["message_id"] == asked.id


async def test_everyone_role_and_user_mentions_in_a_question_ping_nobody(bot: QABot) -> None:
    config = dpytest.get_config()
    other = config.members[0]
    role = config.guilds[0].default_role
    await dpytest.message(mention(bot, f"@everyone @here <@&{role.id}> <@{other.id}> "
                                       f"{DIMA_QUESTION}"))
    assert dpytest.get_message().embeds[0].description.endswith(DIMA_SENTENCE)
    assert bot.payloads[-1]["allowed_mentions"] == NO_PINGS
    default = bot.allowed_mentions
    assert default is not None
    assert not (default.everyone or default.users or default.roles or default.replied_user)


async def test_an_everyone_in_the_quoted_sentence_pings_nobody(service: QAService) -> None:
    result = Result("q", an_answer("Thanks @everyone and <@&123456789012345678> for coming."))
    bot = offline_bot(service)
    bot.service = StubService(service.settings, result)  # type: ignore[assignment]
    payloads = await start_offline(bot)
    try:
        await dpytest.message(mention(bot, "who came?"))
        assert payloads[-1]["allowed_mentions"] == NO_PINGS
        assert "@everyone" in payloads[-1]["embeds"][0]["description"]
    finally:
        await stop_offline(bot)


async def test_messages_without_a_mention_are_ignored(bot: QABot) -> None:
    await dpytest.message(DIMA_QUESTION)
    assert dpytest.verify().message().nothing()
    assert bot.payloads == []


async def test_other_bots_are_ignored(bot: QABot) -> None:
    config = dpytest.get_config()
    robot = dpytest.backend.make_user("OtherBot", "0007")
    robot.bot = True
    member = dpytest.backend.make_member(robot, config.guilds[0])
    await dpytest.message(mention(bot, DIMA_QUESTION), member=member)
    assert dpytest.verify().message().nothing()
    assert bot.payloads == []


async def test_the_bots_own_messages_are_ignored(bot: QABot) -> None:
    assert bot.user is not None
    channel = dpytest.get_config().channels[0]
    me = channel.guild.get_member(bot.user.id)
    await dpytest.message(mention(bot, DIMA_QUESTION), member=me)
    assert bot.payloads == []


async def test_an_empty_mention_gets_a_hint(bot: QABot) -> None:
    await dpytest.message(mention(bot, "   "))
    assert "Ask me a question" in dpytest.get_message().content
    assert bot.payloads[-1]["allowed_mentions"] == NO_PINGS


async def test_the_cooldown_triggers_with_a_polite_message(service: QAService) -> None:
    bot = offline_bot(service, **{"discord.cooldown_questions": 2,
                                  "discord.cooldown_seconds": 60.0})
    payloads = await start_offline(bot)
    try:
        for _ in range(2):
            await dpytest.message(mention(bot, DIMA_QUESTION))
            assert dpytest.get_message().embeds
        await dpytest.message(mention(bot, DIMA_QUESTION))
        refused = dpytest.get_message()
        assert not refused.embeds
        assert "Please try again in" in refused.content and "second" in refused.content
        assert payloads[-1]["allowed_mentions"] == NO_PINGS
        other = dpytest.get_config().members[1]          # another user is not held back
        await dpytest.message(mention(bot, DIMA_QUESTION), member=other)
        assert dpytest.get_message().embeds
    finally:
        await stop_offline(bot)


async def test_channels_outside_the_allow_list_are_ignored(service: QAService) -> None:
    bot = offline_bot(service, **{"discord.allowed_channels": [1]})
    payloads = await start_offline(bot)
    try:
        await dpytest.message(mention(bot, DIMA_QUESTION))
        assert payloads == []
        assert bot.cogs["Questions"].refusal(dpytest.get_config().channels[0]) is not None
    finally:
        await stop_offline(bot)


async def test_a_long_answer_stays_within_discords_limits(service: QAService) -> None:
    long = "This sentence is about the reset and goes on. " * 400          # 18,800 characters
    alternatives = tuple(an_answer(long, title="T" * 500, source="S" * 300) for _ in range(40))
    result = Result("q", an_answer(long, title="T" * 500, also_in=()), alternatives)
    bot = offline_bot(service)
    bot.service = StubService(service.settings, result)  # type: ignore[assignment]
    payloads = await start_offline(bot)
    try:
        await dpytest.message(mention(bot, "x" * 1900))
        embed = discord.Embed.from_dict(payloads[-1]["embeds"][0])
        assert len(embed) <= render.EMBED_TOTAL_LIMIT
        assert len(embed.description) <= render.DESCRIPTION_LIMIT
        assert embed.description.endswith(render.ELLIPSIS)
        assert embed.description.removesuffix(render.ELLIPSIS).rstrip().endswith("goes on.")
        assert all(len(f.value) <= render.FIELD_VALUE_LIMIT for f in embed.fields)
        more = render.alternatives_embed(result)
        assert len(more) <= render.EMBED_TOTAL_LIMIT and len(more.fields) <= 25
    finally:
        await stop_offline(bot)


async def test_a_failure_is_logged_and_apologised_for_and_the_bot_goes_on(
        service: QAService, caplog: pytest.LogCaptureFixture) -> None:
    bot = offline_bot(service)
    bot.service = StubService(service.settings, service.ask(DIMA_QUESTION))  # type: ignore[assignment]
    await start_offline(bot)
    try:
        await dpytest.message(mention(bot, "boom"))
        assert "Sorry, something went wrong" in dpytest.get_message().content
        assert any(r.exc_info and "the index caught fire" in str(r.exc_info[1])
                   for r in caplog.records)
        await dpytest.message(mention(bot, DIMA_QUESTION))
        assert DIMA_SENTENCE in dpytest.get_message().embeds[0].description
    finally:
        await stop_offline(bot)


async def test_a_question_the_articles_do_not_cover_gets_a_friendly_message(bot: QABot) -> None:
    await dpytest.message(mention(bot, "banana spaceship"))
    embed = dpytest.get_message().embeds[0]
    assert embed.title == "The articles do not cover this"
    assert "/sources" in (embed.footer.text or "") + (embed.description or "")


async def test_an_oversized_question_is_explained(bot: QABot, service: QAService) -> None:
    limit = service.settings.answer.max_question_chars
    await dpytest.message(mention(bot, "reset " * (limit // 5)))
    text = dpytest.get_message().content
    assert "limit" in text and text[0].isupper()


def test_the_bot_asks_for_no_privileged_intents(service: QAService) -> None:
    bot = offline_bot(service)
    try:
        assert not bot.intents.message_content
        assert not bot.intents.members and not bot.intents.presences
        assert bot.intents.guild_messages and bot.intents.dm_messages
    finally:
        bot.executor.shutdown()


def test_index_is_not_written_into_the_repository(service: QAService) -> None:
    repository = Path(__file__).resolve().parents[1]
    assert not Path(service.settings.index.dir).resolve().is_relative_to(repository)


def test_discord_markup_is_not_part_of_the_question() -> None:
    from bot.discord.cog import question_text
    assert question_text("<@123> <@!45> <@&6> <#78> @everyone @here what is "
                         "<:reset:901> <a:spin:902> </ask:903> <t:1700000000:R> the law?") == \
        "what is the law?"
