"""How one hosted bot's Application runs its updates: each chat's one at a time and in
order, different chats side by side (at most ``CONCURRENT_UPDATES`` at once), so a slow
handler, or a reply waiting out one chat's flood limit (``replies``), holds up only that
chat. Each runs inside ``replies.handling()`` and is reported once its handlers returned
(or failed: PTB hands a handler's exception to the error handler, and the update counts
as handled; a re-run would fail the same way).

An update whose handling never finished, because the process died inside it, is never
reported: it stays ``received`` in the database and is run again after its lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from botruntime.replies import handling

CONCURRENT_UPDATES = 64  # per bot; PTB's semaphore queues the rest in order


def lane(update: object) -> Hashable:
    """Updates in one lane run in order: a chat's, else a user's (inline queries,
    payments), else one shared lane."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    return None


class HandledReporter(BaseUpdateProcessor):
    def __init__(
        self, on_handled: Callable[[Any], None], *, concurrent: int = CONCURRENT_UPDATES
    ) -> None:
        super().__init__(max_concurrent_updates=concurrent)
        self._on_handled = on_handled
        # A lane's lock and how many updates hold or wait for it (dropped at zero).
        self._lanes: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = lane(update)
        lock, users = self._lanes.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()  # FIFO: the lane's updates run in arrival order
        self._lanes[key] = (lock, users + 1)
        try:
            async with lock:
                with handling():
                    await coroutine
        finally:
            lock, users = self._lanes[key]
            if users > 1:
                self._lanes[key] = (lock, users - 1)
            else:
                del self._lanes[key]
        self._on_handled(update)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
