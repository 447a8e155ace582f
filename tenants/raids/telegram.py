"""What raids contribute to the bot runtime: ``/raid`` and ``/progress`` for everybody,
the "Join" deep link (``/start raid_<id>``), and ``/newraid`` and ``/cancelraid`` for the
group's raid managers (off the command menu, as other admin commands). The deep link's
handler runs in group -1, before the core /start of ``accounts.telegram``, and stops the
update there when it is a raid's link (any other /start goes on to the core one)."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import raids

JOIN_GROUP = -1


def commands() -> list[BotCommand]:
    return [
        BotCommand("raid", "Active raids"),
        BotCommand("progress", "Your progress in the raids you joined"),
    ]


def handlers() -> list[BaseHandler | tuple[BaseHandler, int]]:
    messages = filters.UpdateType.MESSAGE  # an edit must not repeat a command
    return [
        (
            CommandHandler(
                "start",
                raids.on_start_join,
                filters=messages & filters.ChatType.PRIVATE & filters.Regex(r"raid_[0-9]+\s*$"),
            ),
            JOIN_GROUP,
        ),
        CommandHandler("raid", raids.on_raid, filters=messages),
        CommandHandler("progress", raids.on_progress, filters=messages),
        CommandHandler("newraid", raids.on_newraid, filters=messages),
        CommandHandler("cancelraid", raids.on_cancelraid, filters=messages),
    ]
