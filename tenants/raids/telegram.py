"""What raids contribute to the bot runtime (``<app>/telegram.py``): the group commands
of giveaways and EXP contests (``raids.handlers``)."""

from __future__ import annotations

from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import giveaways


def handlers() -> list[BaseHandler]:
    # Edited messages are not commands again: an edit must not enter twice.
    messages = filters.UpdateType.MESSAGE
    return [
        CommandHandler("giveaway", giveaways.on_giveaway, filters=messages),
        CommandHandler("contest", giveaways.on_contest, filters=messages),
    ]
