"""Conversations on Discord, driven offline by dpytest: one per user per channel, a reply to
an answer continues that answer's conversation, /new starts afresh."""
from __future__ import annotations

from types import SimpleNamespace

import discord
import discord.ext.test as dpytest
import pytest

from bot.discord.app import QABot
from bot.discord.cog import NEW_CONVERSATION, QACog
from retrieval.service import QAService
from tests.discord_fixtures import (DIMA_QUESTION, DIMA_SENTENCE, FakeInteraction, FakeUser,
                                    test_settings)
from tests.test_conversation import IVANOV
from tests.test_discord_bot import bot, mention  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> QAService:
    """These tests follow whose conversation a question continues, and show its answer:
    no minimum, so that the follow-ups' own confidence (the model's business, tested
    apart) does not hide what was read."""
    return QAService(test_settings(tmp_path_factory.mktemp("discord-conversation") / "index",
                                   **{"answer.min_confidence": 0.0}))

IVANOV_QUESTION = "What did Igor Ivanov say about the reset in Russian-American relations?"


async def ask(bot: QABot, text: str, member) -> discord.Message:
    await dpytest.message(mention(bot, text), member=member)
    return dpytest.get_message()


def follow_up(reply) -> str | None:
    return next((f.value for f in reply.embeds[0].fields if f.name == "Follow-up"), None)


async def test_two_users_in_one_channel_each_get_answers_from_their_own_context(bot: QABot):
    first, second = dpytest.get_config().members[:2]
    dima = await ask(bot, DIMA_QUESTION, first)
    ivanov = await ask(bot, IVANOV_QUESTION, second)
    assert DIMA_SENTENCE in dima.embeds[0].description and follow_up(dima) is None
    assert IVANOV in ivanov.embeds[0].description.replace("\\", "")

    # the same words from each of them, at once in the same channel
    for_first = await ask(bot, "When was that?", first)
    for_second = await ask(bot, "When was that?", second)
    assert DIMA_SENTENCE in for_first.embeds[0].description
    assert "RT" in for_first.embeds[0].fields[0].value
    assert "4 February 2013" in for_first.embeds[0].fields[0].value
    assert f"Read as a follow-up to “{DIMA_QUESTION}”" in follow_up(for_first)
    assert IVANOV in for_second.embeds[0].description.replace("\\", "")
    assert "Kyiv Post (Interfax)" in for_second.embeds[0].fields[0].value
    assert "January 2013" in for_second.embeds[0].fields[0].value
    assert f"Read as a follow-up to “{IVANOV_QUESTION}”" in follow_up(for_second)


async def test_new_starts_afresh_and_a_reply_continues_the_answers_conversation(bot: QABot):
    first, second = dpytest.get_config().members[:2]
    channel = dpytest.get_config().channels[0]
    cog = bot.get_cog("Questions")
    assert isinstance(cog, QACog)
    answer = await ask(bot, DIMA_QUESTION, first)

    # someone else replying to that answer continues its conversation (not the asker's own,
    # which stays as it was)
    key, conversation = cog.conversation_for(second.id, channel.id, replied_to=answer.id)
    assert key == (second.id, channel.id)
    assert [t.question for t in conversation.turns] == [DIMA_QUESTION]
    assert cog.conversation_for(second.id, channel.id)[1].turns == ()

    interaction = FakeInteraction(user=FakeUser(id=first.id), channel=SimpleNamespace(id=channel.id))
    await cog.new.callback(cog, interaction)  # type: ignore[arg-type]
    assert interaction.sent().args == (NEW_CONVERSATION,)
    alone = await ask(bot, "When was that?", first)
    assert DIMA_SENTENCE not in (alone.embeds[0].description or "")
    assert follow_up(alone) is None


async def test_conversations_are_kept_in_memory_for_a_bounded_number_of_answers(bot: QABot):
    from bot.discord.cog import MAX_REMEMBERED_ANSWERS
    from retrieval.conversation import Conversation
    cog = bot.get_cog("Questions")
    assert isinstance(cog, QACog)
    first = await ask(bot, DIMA_QUESTION, dpytest.get_config().members[0])
    _, conversation = cog.conversation_for(1, 2, replied_to=first.id)
    for message_id in range(MAX_REMEMBERED_ANSWERS + 5):
        cog.remember((1, 2), conversation, message_id)
    assert len(cog.answered_in) == MAX_REMEMBERED_ANSWERS
    assert first.id not in cog.answered_in and cog.conversation_for(1, 2, first.id)[1] == conversation
    assert cog.forget(1, 2) and not cog.forget(1, 2)
    assert cog.conversation_for(1, 2)[1] == Conversation()


async def test_slash_ask_continues_the_conversation_and_its_new_option_starts_afresh(bot: QABot):
    cog = bot.get_cog("Questions")
    assert isinstance(cog, QACog)

    async def slash(question: str, **options) -> discord.Embed:
        interaction = FakeInteraction(user=FakeUser(id=77))
        await cog.ask.callback(cog, interaction, question, **options)  # type: ignore[arg-type]
        return interaction.sent().kwargs["embed"]

    first = await slash(DIMA_QUESTION)
    assert DIMA_SENTENCE in first.description
    follow = await slash("When was that?")
    assert DIMA_SENTENCE in follow.description
    assert any(f.name == "Follow-up" and DIMA_QUESTION in f.value for f in follow.fields)
    afresh = await slash("When was that?", new=True)
    assert DIMA_SENTENCE not in (afresh.description or "")
    assert not any(f.name == "Follow-up" for f in afresh.fields)
