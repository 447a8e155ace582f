"""Helpers for the bot runtime's tests: runtimes driven from the test's thread (``serve``,
``serve_together``), waiting for a bot's messages (``sent``), and applying the
write-behind buffers as the runtime would (``flush_all_strictly``) for tests that drive
handlers without one, a group bound on the sandbox (``bound_group``), and ``manage.py
runbots`` in a process of its own (``runbots_env``, ``process_running``,
``wait_for_line``)."""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asgiref.sync import async_to_sync

from accounts.services import tenant_owner_set
from botruntime.batching import buffers
from community.services import group_bind_on_bot_added
from config.dbserver import connection_url

ROOT = Path(__file__).resolve().parents[2]


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


def serve_together(runtimes: list[Any], scenario: Callable[[], Awaitable[Any]]) -> Any:
    """``serve`` for several runtimes in one process (shards of one installation): all
    started, ``scenario`` run, all stopped."""

    async def main() -> Any:
        try:
            for runtime in runtimes:
                await runtime.start()
            return await scenario()
        finally:
            for runtime in runtimes:
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


def bound_group(tg, tenant, bot_id: int, creator: int, title: str) -> int:
    """A group on the sandbox, bound to the tenant by its creator adding the bot (an admin
    that may delete messages); returns its chat id."""
    # The creator owns the community: only someone who manages it binds by adding the bot.
    tenant_owner_set(tenant=tenant, owner_telegram_id=creator)
    chat_id = tg.add_group(title=title)["id"]
    tg.set_member(chat_id, creator, "creator")
    tg.set_member(chat_id, bot_id, "administrator", can_delete_messages=True)
    group_bind_on_bot_added(
        tenant=tenant, bot_id=bot_id, chat_id=chat_id, title=title, added_by_telegram_id=creator
    )
    return chat_id


def runbots_env(tg: Any, platform_token: str, **extra: str) -> dict[str, str]:
    """The environment of a runbots process serving the platform bot on the sandbox."""
    return {
        **os.environ,
        "DATABASE_URL": connection_url(),  # the test database, not the settings' default
        "TELEGRAM_API_BASE": tg.base_url,
        "PLATFORM_BOT_TOKEN": platform_token,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


@contextmanager
def process_running(
    args: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen, queue.Queue]]:
    """``python *args`` from the project's root, with the lines it prints (stdout and
    stderr) on a queue; it is killed on the way out if it is still running, so a failed
    test leaves no process."""
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue = queue.Queue()
    printed: list[str] = []  # everything, also what wait_for_line took off the queue
    process.printed = printed  # type: ignore[attr-defined]  # the test reads it back
    threading.Thread(
        target=stream_lines, args=(process.stdout, lines, printed), daemon=True
    ).start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def stream_lines(stream, into: queue.Queue, printed: list[str] | None = None) -> None:
    """Put each line a process prints on ``into`` (run on a thread of its own)."""
    for line in iter(stream.readline, ""):
        if printed is not None:
            printed.append(line)
        into.put(line)


def wait_for_line(lines: queue.Queue, text: str, timeout: float = 30) -> str:
    """The first line of ``lines`` that contains ``text``; fails after ``timeout``."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"{text!r} not printed; got {seen!r}")
