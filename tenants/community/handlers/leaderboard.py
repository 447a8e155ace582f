"""``/leaderboard [day|week|all]`` in a group: the top members, read by
``community.selectors.leaderboard_top`` and rendered by ``community.texts.board_text``."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from community.handlers.common import GROUP_CHATS, group_of
from community.selectors import PERIODS, leaderboard_top
from community.texts import board_text
from config.errors import ServiceError

LEADERBOARD_USAGE = "Use /leaderboard [day|week|all] in a group (default: week)."


async def on_leaderboard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    period = args[0].lower() if args else "week"
    if len(args) > 1 or period not in PERIODS:
        await message.reply_text(LEADERBOARD_USAGE)
        return
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_CHATS:
        await message.reply_text(LEADERBOARD_USAGE)
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return
    try:
        board = await in_tenant(
            tenant,
            leaderboard_top,
            tenant=tenant,
            chat_id=config.chat_id,
            period=period,
            config=config,
        )
    except ServiceError as exc:
        await message.reply_text(exc.message[:1].upper() + exc.message[1:] + ".")
        return
    await message.reply_text(board_text(board, title=config.title))
