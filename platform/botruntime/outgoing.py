"""Short-lived Bot API sessions for sync code: the services and jobs of any app that call
Telegram outside an update (handlers answer with the bot that received the update).

Each session opens a ``telegram.Bot`` on ``settings.TELEGRAM_API_BASE`` (the real API, or
the sandbox loopback in tests and the demo) with one shared TLS context.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import ssl
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import telegram
from django.conf import settings
from telegram.request import HTTPXRequest

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from sync code. With no event loop in this thread
    (a sync view, a command, a ``sync_to_async`` worker) it uses ``asyncio.run``; if a
    loop is running here it runs the coroutine on a fresh loop in a worker thread, since
    a running loop cannot be blocked on from inside."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def api_base_url() -> str:
    """python-telegram-bot appends the token: base_url is ``<API base>/bot``."""
    return f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot"


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every short-lived Bot (building the CA bundle costs ~100 ms)."""
    return httpx.create_ssl_context()


def _request() -> HTTPXRequest:
    return HTTPXRequest(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        httpx_kwargs={"verify": ssl_context()},
    )


def bot_session(token: str) -> telegram.Bot:
    """A short-lived bot for one session: ``async with bot_session(token) as bot:``."""
    return telegram.Bot(
        token, base_url=api_base_url(), request=_request(), get_updates_request=_request()
    )
