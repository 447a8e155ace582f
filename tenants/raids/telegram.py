"""What raids contribute to the bot runtime: ``/myrewards`` (private: the user's raid
rewards); the handlers are in ``raids.handlers``."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import rewards


def commands() -> list[BotCommand]:
    return [BotCommand("myrewards", "Your raid rewards")]


def handlers() -> list[BaseHandler]:
    # Edited messages are not commands again.
    messages = filters.UpdateType.MESSAGE
    return [CommandHandler("myrewards", rewards.on_myrewards, filters=messages)]
