"""The buttons under an answer: "More answers" and "Context", shown only to the asker."""
from __future__ import annotations

import logging
from typing import Any

import discord

from bot.discord import render
from retrieval.answerer import Result

log = logging.getLogger(__name__)

BUTTON_TIMEOUT = 15 * 60.0  # seconds; after this the buttons are removed from the answer
NOT_YOURS = ("These buttons are for the person who asked. "
             "Ask your own question with /ask or by mentioning me.")
APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."


class AnswerView(discord.ui.View):
    """Buttons that show the asker, ephemerally, the ranked alternatives and the context of
    one ``Result``. They hold the result itself, so they work until they time out."""

    def __init__(self, result: Result, asker_id: int, *, timeout: float = BUTTON_TIMEOUT) -> None:
        super().__init__(timeout=timeout)
        self.result = result
        self.asker_id = asker_id
        self.message: discord.Message | discord.WebhookMessage | None = None
        self.more_answers.disabled = not result.alternatives
        self.context.disabled = result.answer is None

    @classmethod
    def for_result(cls, result: Result, asker_id: int) -> AnswerView | None:
        """The view for ``result``, or None when it has nothing to show."""
        if not result.ranked:
            return None
        return cls(result, asker_id)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.user.id == self.asker_id:
            return True
        await interaction.response.send_message(NOT_YOURS, ephemeral=True,
                                                allowed_mentions=render.NO_PINGS)
        return False

    @discord.ui.button(label="More answers", style=discord.ButtonStyle.secondary)
    async def more_answers(self, interaction: discord.Interaction,
                           button: discord.ui.Button[AnswerView]) -> None:
        await interaction.response.send_message(embed=render.alternatives_embed(self.result),
                                                ephemeral=True, allowed_mentions=render.NO_PINGS)

    @discord.ui.button(label="Context", style=discord.ButtonStyle.secondary)
    async def context(self, interaction: discord.Interaction,
                      button: discord.ui.Button[AnswerView]) -> None:
        if self.result.answer is None:    # the button is disabled then; a stale client may not know
            await interaction.response.send_message("There is no answer to show the context of.",
                                                    ephemeral=True, allowed_mentions=render.NO_PINGS)
            return
        await interaction.response.send_message(embed=render.context_embed(self.result.answer),
                                                ephemeral=True, allowed_mentions=render.NO_PINGS)

    async def on_timeout(self) -> None:
        if self.message is None:
            return
        try:
            await self.message.edit(view=None)
        except discord.HTTPException:     # deleted, or no longer editable: nothing to tidy
            pass

    async def on_error(self, interaction: discord.Interaction, error: Exception,
                       item: discord.ui.Item[Any]) -> None:
        log.exception("error in the %r button for %r", getattr(item, "label", item),
                      self.result.question, exc_info=error)
        send = (interaction.followup.send if interaction.response.is_done()
                else interaction.response.send_message)
        try:
            await send(APOLOGY, ephemeral=True, allowed_mentions=render.NO_PINGS)
        except discord.HTTPException:
            pass
