"""What raids contribute to the bot runtime: ``/raid`` and ``/progress`` for everybody,
the "Join" deep link (``/start raid_<id>``), ``/newraid`` and ``/cancelraid`` for the
group's raid managers (off the command menu, as other admin commands), ``/myrewards``
(private: the user's raid rewards), the group commands of giveaways and EXP contests, and
the admins' anti-fraud commands (/flags, /dismiss, /uphold) and their giveaway, contest
and results commands (/newgiveaway, /drawgiveaway, /newcontest, /results).
The deep link's handler runs in group -1, before the core /start of
``accounts.telegram``, and stops the update there when it is a raid's link (any other
/start goes on to the core one). The handlers are in ``raids.handlers``."""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import BaseHandler, CommandHandler, filters

from raids.handlers import admin, fraud, giveaways, raids, rewards

JOIN_GROUP = -1


def commands() -> list[BotCommand]:
    return [
        BotCommand("raid", "Active raids"),
        BotCommand("progress", "Your progress in the raids you joined"),
        BotCommand("myrewards", "Your raid rewards"),
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
        CommandHandler("myrewards", rewards.on_myrewards, filters=messages),
        CommandHandler("giveaway", giveaways.on_giveaway, filters=messages),
        CommandHandler("contest", giveaways.on_contest, filters=messages),
        CommandHandler("flags", fraud.on_flags, filters=messages),
        CommandHandler("dismiss", fraud.on_dismiss, filters=messages),
        CommandHandler("uphold", fraud.on_uphold, filters=messages),
        CommandHandler("newgiveaway", admin.on_newgiveaway, filters=messages),
        CommandHandler("drawgiveaway", admin.on_drawgiveaway, filters=messages),
        CommandHandler("newcontest", admin.on_newcontest, filters=messages),
        CommandHandler("results", admin.on_results, filters=messages),
    ]
