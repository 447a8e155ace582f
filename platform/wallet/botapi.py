"""Outgoing Bot API calls of wallet services and jobs (sendInvoice, refundStarPayment,
getStarTransactions). Handlers answer with the bot that received the update instead.

Each call opens a short-lived ``telegram.Bot`` on ``settings.TELEGRAM_API_BASE`` (the
real API, or the sandbox in tests and the demo). Telegram's refusals become
``ServiceError``s with stable codes.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import telegram
from telegram import error as tg_error

from botruntime.outgoing import bot_session, run_sync
from config.errors import ServiceError

logger = logging.getLogger(__name__)

T = TypeVar("T")

STARS = "XTR"
PAGE = 100  # getStarTransactions answers at most 100 at a time


def _call(coro: Coroutine[Any, Any, T], *, event: str, **extra: Any) -> T:
    try:
        return run_sync(coro)
    except tg_error.TelegramError as exc:
        # InvalidToken's message repeats the token: never log it.
        detail = "" if isinstance(exc, tg_error.InvalidToken) else exc.message
        logger.warning(event, extra={**extra, "error": type(exc).__name__, "detail": detail})
        raise _service_error(exc, detail) from exc


def _service_error(exc: tg_error.TelegramError, detail: str) -> ServiceError:
    if isinstance(exc, tg_error.Forbidden):
        return ServiceError(
            "the bot cannot write to this chat (start the bot in private first)",
            code="bot_cannot_write",
            status=409,
        )
    if "CHARGE_ALREADY_REFUNDED" in detail:
        return ServiceError(
            "Telegram already refunded this payment", code="charge_already_refunded", status=409
        )
    if isinstance(exc, tg_error.NetworkError) and not isinstance(exc, tg_error.BadRequest):
        return ServiceError(
            "Telegram could not be reached; try again shortly",
            code="telegram_unavailable",
            status=503,
        )
    return ServiceError(
        f"Telegram refused the request: {detail}", code="telegram_error", status=502
    )


async def _send_invoice(token: str, chat_id: int, title: str, text: str, payload: str, amount: int):
    async with bot_session(token) as bot:
        message = await bot.send_invoice(
            chat_id=chat_id,
            title=title,
            description=text,
            payload=payload,
            currency=STARS,
            prices=[telegram.LabeledPrice(title, amount)],
        )
        return message.message_id


def invoice_send(
    *, token: str, chat_id: int, title: str, description: str, payload: str, amount: int
) -> int:
    """Send an XTR invoice for ``amount`` Stars; returns its message id."""
    result: int = _call(
        _send_invoice(token, chat_id, title, description, payload, amount),
        event="wallet.telegram.send_invoice_failed",
        chat_id=chat_id,
    )
    return result


async def _refund(token: str, user_id: int, charge_id: str) -> bool:
    async with bot_session(token) as bot:
        return await bot.refund_star_payment(user_id=user_id, telegram_payment_charge_id=charge_id)


def star_payment_refund(*, token: str, user_id: int, charge_id: str) -> None:
    """refundStarPayment: the Stars go back to the payer. ``charge_already_refunded``
    when the bot's owner refunded it already (outside the platform)."""
    _call(
        _refund(token, user_id, charge_id),
        event="wallet.telegram.refund_failed",
        charge_id=charge_id,
    )


@dataclass(frozen=True)
class StarTransaction:
    """One of a bot's Stars transactions: a payment in, or its refund out (same id)."""

    charge_id: str
    amount: int
    date: datetime
    incoming: bool
    user_id: int | None
    payload: str


def _transaction(tx: telegram.StarTransaction) -> StarTransaction:
    partner = tx.source if tx.source is not None else tx.receiver
    user = getattr(partner, "user", None)
    return StarTransaction(
        charge_id=tx.id,
        amount=tx.amount,
        date=tx.date,
        incoming=tx.source is not None,
        user_id=user.id if user is not None else None,
        payload=getattr(partner, "invoice_payload", None) or "",
    )


async def _transactions(token: str, since: datetime, max_pages: int) -> list[StarTransaction]:
    found: list[StarTransaction] = []
    async with bot_session(token) as bot:
        for page in range(max_pages):
            answer = await bot.get_star_transactions(offset=page * PAGE, limit=PAGE)
            batch = [_transaction(tx) for tx in answer.transactions]
            found.extend(batch)
            # Newest first: a page reaching past ``since`` is the last one needed.
            if len(batch) < PAGE or batch[-1].date < since:
                break
    return found


def star_transactions(
    *, token: str, bot_id: int, since: datetime, max_pages: int = 100
) -> list[StarTransaction]:
    """The bot's Stars transactions from now back to ``since`` (or a bit older)."""
    result: list[StarTransaction] = _call(
        _transactions(token, since, max_pages),
        event="wallet.telegram.star_transactions_failed",
        bot_id=bot_id,
    )
    return result
