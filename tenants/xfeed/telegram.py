"""What the X feed contributes to the bot runtime (``<app>/telegram.py``): its handlers
(in ``xfeed.handlers``) and command menu entries."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CommandHandler

from xfeed.handlers import kols


def commands() -> list[BotCommand]:
    """None on the menu: /kols is for settings managers (as /bind stays off it)."""
    return []


def handlers() -> list[BaseHandler]:
    return [CommandHandler("kols", kols.on_kols)]
