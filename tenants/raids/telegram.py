"""What raids contribute to the bot runtime (``<app>/telegram.py``): the admins' anti-fraud
commands (``raids.handlers.fraud``), off the command menu as the other admin commands."""

from __future__ import annotations

from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import fraud


def handlers() -> list[BaseHandler]:
    # Edited messages are not commands again: an edit must not repeat a decision.
    messages = filters.UpdateType.MESSAGE
    return [
        CommandHandler("flags", fraud.on_flags, filters=messages),
        CommandHandler("dismiss", fraud.on_dismiss, filters=messages),
        CommandHandler("uphold", fraud.on_uphold, filters=messages),
    ]
