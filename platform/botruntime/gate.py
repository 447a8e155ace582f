"""Mark a send as started at the last moment before its request leaves the process.

Telegram has no idempotency key: a dispatcher killed after committing "this message is
being sent" but before the request went out leaves a row that can be neither resent (it
may have arrived) nor called delivered. That window should be as short as possible, so
the commit happens inside the HTTP client, after python-telegram-bot and httpx have built
the request, right before httpcore writes it:

    async with gated(hook):              # hook: async () -> None, raises to cancel
        await bot.send_message(...)      # the bot's request must be a GatedRequest

``GatedTransport`` awaits the hook of the send that is under way (a context variable, so
concurrent sends each run their own) and only then hands the request to the connection
pool. Requests made outside ``gated`` (getMe, the runtime's replies) pass straight through.
A hook that raises cancels the request before anything is written; python-telegram-bot
reports that as a NetworkError, which the caller tells apart by its own record.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from telegram.request import HTTPXRequest

Hook = Callable[[], Awaitable[None]]

_BEFORE_REQUEST: contextvars.ContextVar[Hook | None] = contextvars.ContextVar(
    "botruntime_before_request", default=None
)


@contextlib.asynccontextmanager
async def gated(hook: Hook) -> AsyncIterator[None]:
    """Run ``hook`` right before the next request made by this task leaves."""
    token = _BEFORE_REQUEST.set(hook)
    try:
        yield
    finally:
        _BEFORE_REQUEST.reset(token)


class GatedTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        hook = _BEFORE_REQUEST.get()
        if hook is not None:
            _BEFORE_REQUEST.set(None)  # once per send, even if the client retried
            await hook()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class GatedRequest(HTTPXRequest):
    """python-telegram-bot's HTTPX request with ``GatedTransport`` in front of the pool.
    Takes HTTPXRequest's arguments (``connection_pool_size``, timeouts, ``http_version``,
    ``httpx_kwargs`` with ``limits`` or ``verify``); not ``proxy`` or ``socket_options``,
    which belong to the transport this replaces."""

    __slots__ = ()

    def _build_client(self) -> httpx.AsyncClient:
        # PTB builds a new client after a shutdown: each gets a fresh pool.
        options = dict(self._client_kwargs)
        inner = httpx.AsyncHTTPTransport(
            verify=options.get("verify", True),
            limits=options.get("limits") or httpx.Limits(),
            http1=options.get("http1", True),
            http2=options.get("http2", False),
        )
        options["transport"] = GatedTransport(inner)
        return httpx.AsyncClient(**options)


def is_gated(request: Any) -> bool:
    return isinstance(request, GatedRequest)
