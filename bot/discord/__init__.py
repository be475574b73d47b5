"""The Discord adapter: a discord.py bot that answers questions about the articles.

``create_bot`` builds the bot without connecting (for tests and embedding); ``main`` runs
it (``qabot discord``). The adapter only translates: no retrieval logic lives here."""
from __future__ import annotations

from bot.discord.app import QABot, create_bot, main, read_token

__all__ = ["QABot", "create_bot", "main", "read_token"]
