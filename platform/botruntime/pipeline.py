"""How one hosted bot's Application runs its updates: one at a time, in order (PTB's
default), each inside ``replies.handling()`` so its direct replies survive a 429, and
reported once its handlers returned (or failed: PTB hands a handler's exception to the
error handler, and the update counts as handled; a re-run would fail the same way).

An update whose handling never finished, because the process died inside it, is never
reported: it stays ``received`` in the database and is run again after its lease.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from telegram.ext import BaseUpdateProcessor

from botruntime.replies import handling


class HandledReporter(BaseUpdateProcessor):
    def __init__(self, on_handled: Callable[[Any], None]) -> None:
        super().__init__(max_concurrent_updates=1)
        self._on_handled = on_handled

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        with handling():
            await coroutine
        self._on_handled(update)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""
