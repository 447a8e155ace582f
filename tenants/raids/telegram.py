"""What raids contribute to the bot runtime (``<app>/telegram.py``): ``/myrewards``
(private: the user's raid rewards) and the group commands of giveaways and EXP contests;
the handlers are in ``raids.handlers``."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import giveaways, rewards


def commands() -> list[BotCommand]:
    return [BotCommand("myrewards", "Your raid rewards")]


def handlers() -> list[BaseHandler]:
    # Edited messages are not commands again: an edit must not enter twice.
    messages = filters.UpdateType.MESSAGE
    return [
        CommandHandler("myrewards", rewards.on_myrewards, filters=messages),
        CommandHandler("giveaway", giveaways.on_giveaway, filters=messages),
        CommandHandler("contest", giveaways.on_contest, filters=messages),
    ]
