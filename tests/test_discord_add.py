"""Discord ``/add url:`` (issue 12): the real bot driven offline by dpytest, the slash command
called with a stand-in interaction (dpytest has none), pages from the local news server."""
from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import discord.ext.test as dpytest
import pytest
from discord import app_commands

from bot.discord.app import QABot
from bot.discord.ingest import IngestCog
from retrieval.ingest.store import remove_articles
from retrieval.service import QAService
from tests.conftest import ROOT
from tests.discord_fixtures import (FakeInteraction, offline_bot, refused_without_manage_server,
                                    start_offline, stop_offline,
                                    test_settings)
from tests.ingest_server import NewsServer

FROST_SENTENCE = ("The Valley Growers Association estimates the loss at 2.3 million pounds "
                  "and has asked the regional agency for emergency grants.")


@pytest.fixture
def service(corpus_copy: Path, tmp_path: Path) -> QAService:
    # the test news server is on 127.0.0.1: private addresses are allowed here (the default
    # refuses them, see test_private_addresses_are_refused_by_default)
    return QAService(test_settings(tmp_path / "index", **{"corpus.path": str(corpus_copy),
                                                          "ingest.timeout_seconds": 1.0,
                                                          "ingest.allow_private_addresses":
                                                              True}))


@pytest.fixture
async def bot(service: QAService) -> AsyncIterator[QABot]:
    bot = offline_bot(service)
    bot.payloads = await start_offline(bot)  # type: ignore[attr-defined]
    yield bot
    await stop_offline(bot)


def ingest_cog(bot: QABot) -> IngestCog:
    found = bot.get_cog("Ingestion")
    assert isinstance(found, IngestCog)
    return found


async def add(bot: QABot, url: str) -> tuple[FakeInteraction, str]:
    interaction = FakeInteraction()
    cog = ingest_cog(bot)
    await cog.add.callback(cog, interaction, url)  # type: ignore[arg-type]
    assert interaction.calls[0].how == "defer" and interaction.calls[0].kwargs["ephemeral"]
    sent = interaction.sent()
    assert sent.kwargs["ephemeral"]
    return interaction, sent.args[0]


async def test_add_a_link_then_ask_about_it_at_once(bot: QABot, service: QAService,
                                                    news_site: NewsServer) -> None:
    before = len(service.articles)
    _, reply = await add(bot, f"{news_site.base}/news/orchard-frost")
    assert reply == ("Added “Late frost wipes out a third of the apple blossom” — Valley "
                     "Gazette, 27 April 2023. You can ask about it now.")
    assert len(service.articles) == before + 1
    assert not service.last_load.rebuilt        # the article is a new segment of the index
    assert bot.user is not None
    await dpytest.message(f"<@{bot.user.id}> How much did the growers association estimate "
                          "the frost loss at?")
    embed = dpytest.get_message().embeds[0]
    assert FROST_SENTENCE in embed.description
    assert "Valley Gazette" in embed.fields[0].value
    assert "27 April 2023" in embed.fields[0].value
    _, again = await add(bot, f"{news_site.base}/news/orchard-frost")
    assert again == ("I already have that article: “Late frost wipes out a third of the apple "
                     "blossom” — Valley Gazette, 27 April 2023.")


@pytest.mark.parametrize("path, reply", [
    ("/report.pdf", "I couldn't add that link: Not a web page or a feed (application/pdf)."),
    ("/slow", "I couldn't add that link: No answer from 127.0.0.1 within 1 s (timeout)."),
    ("/news/section-index", "I couldn't add that link: No article text found (no paragraph of "
                            "complete sentences)."),
    ("/nowhere", "I couldn't add that link: 127.0.0.1 answered 404 Not Found."),
])
async def test_a_failing_fetch_is_one_polite_line(bot: QABot, service: QAService,
                                                  news_site: NewsServer, path: str,
                                                  reply: str) -> None:
    before = service.articles
    _, text = await add(bot, news_site.base + path)
    assert text == reply
    assert service.articles == before
    assert dpytest.verify().message().nothing()   # nothing said in the channel


async def test_only_links_are_added_never_files(bot: QABot, service: QAService) -> None:
    before = service.articles
    page = ROOT / "tests" / "data" / "ingest" / "harbour-bridge.html"
    _, text = await add(bot, str(page))
    assert text == "I couldn't add that link: it is not a link (one starts with https://)."
    _, text = await add(bot, page.as_uri())
    assert text == "I couldn't add that link: Only http and https links can be added, not file:."
    assert service.articles == before


async def test_add_needs_manage_server(bot: QABot) -> None:
    command = bot.tree.get_command("add")
    assert isinstance(command, app_commands.Command)
    assert command.default_permissions is not None and command.default_permissions.manage_guild
    assert command.guild_only and command.checks
    sent = await refused_without_manage_server(command, ingest_cog(bot))
    assert sent.args[0] == "Only members with the Manage Server permission can use /add."
    assert sent.kwargs["ephemeral"]


async def test_a_removed_article_can_be_added_again(bot: QABot, service: QAService,
                                                    news_site: NewsServer) -> None:
    url = f"{news_site.base}/news/orchard-frost"
    await add(bot, url)
    added = [a.id for a in service.articles if a.title.startswith("Late frost")]
    removed = remove_articles(service.settings.corpus.path, added)
    service.apply_change(removed=added, files=[r.file for r in removed])
    _, reply = await add(bot, url)
    assert reply == ("Added “Late frost wipes out a third of the apple blossom” — Valley "
                     "Gazette, 27 April 2023. You can ask about it now.")


@pytest.mark.parametrize("path", ["/news/orchard-frost", "/redirect/orchard-frost"])
async def test_private_addresses_are_refused_by_default(corpus_copy: Path, tmp_path: Path,
                                                        news_site: NewsServer,
                                                        path: str) -> None:
    settings = test_settings(tmp_path / "index", **{"corpus.path": str(corpus_copy)})
    assert settings.ingest.allow_private_addresses is False
    bot = offline_bot(QAService(settings))
    await start_offline(bot)
    try:
        before, asked = sorted(p.name for p in corpus_copy.iterdir()), len(news_site.agents)
        _, reply = await add(bot, news_site.base.replace("127.0.0.1", "localhost") + path)
        assert reply == ("I couldn't add that link: Localhost is a private or local address "
                         "(127.0.0.1), which links cannot lead to here "
                         "(ingest.allow_private_addresses).")
        assert len(news_site.agents) == asked        # nothing was asked of the server
        assert sorted(p.name for p in corpus_copy.iterdir()) == before
    finally:
        await stop_offline(bot)
