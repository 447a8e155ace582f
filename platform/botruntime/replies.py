"""Direct replies that meet Telegram's flood control are sent late rather than lost.

Handlers answer a user's own message straight away (``message.reply_text``), outside the
notifications outbox. Telegram allows about one message per second in one chat, so a user
who sends a few commands in a row gets 429 ``retry_after`` for some answers. Every hosted
bot carries ``ReplyRetry`` as its python-telegram-bot rate limiter: a request made while
an update is being handled (``handling()``) that is refused with 429 waits ``retry_after``
(``asyncio.sleep``: the event loop stays free) and goes again, at most
``BOT_REPLY_RETRIES`` times; a ``retry_after`` above ``BOT_REPLY_WAIT_MAX_S`` is logged
and dropped, since the chat's next updates wait behind it (``pipeline``). Requests made
outside a handler (the notifications dispatcher's sends, the poller, start-up calls) pass
through untouched: the dispatcher paces and reschedules its own sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from django.conf import settings
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

_handling: ContextVar[bool] = ContextVar("bragabot_handling_update", default=False)


@contextlib.contextmanager
def handling() -> Iterator[None]:
    """Mark the code inside (and the tasks it starts) as handling an update."""
    token = _handling.set(True)
    try:
        yield
    finally:
        _handling.reset(token)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB announces a timedelta here; both are read
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class ReplyRetry(BaseRateLimiter[None]):
    """One instance serves every bot of a runtime; it keeps no state."""

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        if not _handling.get():
            return await callback(*args, **kwargs)
        retries = 0
        while True:
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                seconds = retry_after_seconds(exc)
                extra = {
                    "method": endpoint,
                    "chat_id": data.get("chat_id"),
                    "retry_after": seconds,
                    "attempt": retries + 1,
                }
                if seconds > settings.BOT_REPLY_WAIT_MAX_S or retries >= settings.BOT_REPLY_RETRIES:
                    logger.error("botruntime.reply_dropped", extra=extra)
                    raise
                logger.info("botruntime.reply_retry_after", extra=extra)
                retries += 1
                await asyncio.sleep(seconds)
