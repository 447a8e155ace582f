"""Telegram calls on group members for sync code (jobs, services): remove a member,
delete a message. The message path does the same through its own running bot
(``community.telegram_groups``); these open a short-lived bot like ``telegram_api``."""

from __future__ import annotations

import logging

from telegram import error as tg_error

from community.telegram_api import _bot, _service_error, run_sync

logger = logging.getLogger(__name__)


async def _kick(token: str, chat_id: int, user_id: int, message_id: int | None) -> None:
    async with _bot(token) as bot:
        # Telegram has no "kick": a ban removes the member, the unban lets them rejoin.
        await bot.ban_chat_member(chat_id, user_id)
        await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)
        if message_id is not None:
            try:
                await bot.delete_message(chat_id, message_id)
            except tg_error.BadRequest as exc:  # already deleted by an admin: fine
                logger.info(
                    "community.telegram.delete_skipped",
                    extra={"chat_id": chat_id, "message_id": message_id, "detail": exc.message},
                )


def member_kick(*, token: str, chat_id: int, user_id: int, message_id: int | None = None) -> None:
    """Remove ``user_id`` from the chat (ban + unban: they may join again later) and
    delete ``message_id`` (the welcome they did not answer). ServiceError on refusal."""
    try:
        run_sync(_kick(token, chat_id, user_id, message_id))
    except tg_error.TelegramError as exc:
        detail = "" if isinstance(exc, tg_error.InvalidToken) else exc.message
        logger.warning(
            "community.telegram.kick_failed",
            extra={
                "chat_id": chat_id,
                "user_id": user_id,
                "error": type(exc).__name__,
                "detail": detail,
            },
        )
        raise _service_error(exc, chat_id=chat_id) from exc
