"""Helpers for the bot runtime's tests: a runtime driven from the test's thread
(``serve``), waiting for a bot's messages (``sent``), and applying the write-behind buffers
as the runtime would (``flush_all_strictly``) for tests that drive handlers without one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync

from botruntime.batching import buffers


def flush_all_strictly() -> int:
    """Apply every write-behind buffer now, as the runtime does after handlers ran; unlike
    ``batching.flush_all`` a failure raises, so a test sees it."""
    return sum(buffer.flush() for buffer in buffers())


def serve(runtime: Any, scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Start ``runtime``, run ``scenario``, stop it. ``async_to_sync`` keeps this thread
    serving the runtime's ``sync_to_async`` calls, so handlers, dedupe and jobs see the
    test's transaction."""

    async def main() -> Any:
        await runtime.start()
        try:
            return await scenario()
        finally:
            await runtime.stop()

    return async_to_sync(main)()


async def sent(tg: Any, bot_id: int, chat_id: int, count: int = 1, timeout: float = 10) -> list:
    """The bot's messages in ``chat_id`` once there are ``count`` of them."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        messages = tg.sent(bot_id, chat_id)
        if len(messages) >= count:
            return messages
        if loop.time() > deadline:
            raise AssertionError(f"bot {bot_id} sent {messages!r} to {chat_id}, wanted {count}")
        await asyncio.sleep(0.02)
