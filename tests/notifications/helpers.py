"""Helpers for the notifications tests on the sandbox Telegram (``sandbox(limits)``, a
server of the test's own): limits shared by the sandbox and the dispatcher, people who
started the bot, groups with the bot in them, a python-telegram-bot Bot pointed at it, and
a way to run dispatchers until a condition holds.

``async_to_sync`` drives everything, so the dispatchers' ``sync_to_async`` database calls
run back on the test's thread, inside its transaction."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from asgiref.sync import async_to_sync, sync_to_async
from telegram import Bot

from botruntime.gate import GatedRequest
from notifications.conf import RateLimits
from notifications.dispatcher import Dispatcher
from notifications.models import Broadcast, OutboxMessage
from notifications.ratelimit import RedisLimiter
from sandbox.telegram import Limits, SandboxTelegram
from tests.helpers import bot_id_of, tenant_bot_token
from tests.service_policy import skip_service_missing

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def redis_limiter() -> RedisLimiter:
    """A limiter on its own key prefix, or a skip when no Redis answers."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except redis.exceptions.RedisError as exc:
        skip_service_missing("Redis", f"{REDIS_URL} is unreachable ({exc}); set REDIS_URL")
    return RedisLimiter(REDIS_URL, prefix=f"test:{uuid.uuid4().hex}:")


def fast_limits(**overrides: Any) -> tuple[Limits, RateLimits]:
    """The same small limits for the sandbox and for the dispatcher. The dispatcher's
    margin is wide: the sandbox shares this busy process (and its GIL) with the test."""
    values = {"per_bot_per_s": 5, "per_group_per_min": 3, "per_chat_per_s": 1, "paid_per_s": 1000}
    values.update(overrides)
    return Limits(**values, chat_burst=1), RateLimits(**values, margin=0.25)


def started_bot(tg: SandboxTelegram, tenant, user) -> None:
    """The person wrote /start to the tenant's bot (so the bot may write to them)."""
    tg.add_user(user.telegram_id, user.first_name, username=user.username)
    tg.send_message(bot_id_of(tenant), user.telegram_id, user.telegram_id, "/start")


def group_with_bot(tg: SandboxTelegram, tenant, chat_id: int, *members) -> None:
    tg.add_group(chat_id, title=f"Group {chat_id}")
    tg.set_member(chat_id, bot_id_of(tenant), status="administrator")
    for user in members:
        tg.add_user(user.telegram_id, user.first_name, username=user.username)
        tg.set_member(chat_id, user.telegram_id, status="member")


def ptb_bot(base_url: str, tenant, **request: Any) -> Bot:
    return Bot(
        tenant_bot_token(tenant),
        base_url=f"{base_url}/bot",
        request=GatedRequest(connection_pool_size=64, **request),
    )


def dispatcher(base_url: str, tenant, limits: RateLimits, **kwargs: Any) -> Dispatcher:
    kwargs.setdefault("retry_base", 0.05)
    kwargs.setdefault("housekeeping_seconds", 0.2)
    return Dispatcher(
        bot_id=bot_id_of(tenant), bot=ptb_bot(base_url, tenant), limits=limits, **kwargs
    )


def nothing_left(bot_id: int) -> Callable[[], bool]:
    """True once no message of the bot is pending or in flight and its bulk sends are
    complete."""

    def check() -> bool:
        busy = OutboxMessage.objects.filter(bot_id=bot_id, status__in=["pending", "sending"])
        bulks = Broadcast.objects.filter(bot_id=bot_id, status__in=["expanding", "sending"])
        return not busy.exists() and not bulks.exists()

    return check


def run_until(
    dispatchers: list[Dispatcher],
    until: Callable[[], bool],
    *,
    timeout: float = 20.0,
    kill: bool = False,
) -> None:
    """Run the dispatchers side by side until ``until()`` (a sync check) holds, then stop
    them gracefully — or, with ``kill``, cancel them where they are (a hard kill: nothing
    after the cancellation point runs, in-flight sends stay unrecorded)."""

    async def go() -> None:
        for d in dispatchers:
            await d.bot.initialize()
        stop = asyncio.Event()
        tasks = [asyncio.create_task(d.run(stop)) for d in dispatchers]
        deadline = time.monotonic() + timeout
        try:
            while not await sync_to_async(until)():
                if time.monotonic() > deadline:
                    raise AssertionError("the dispatchers did not get there in time")
                if any(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.02)
        finally:
            if kill:
                for t in tasks:
                    t.cancel()
            else:
                stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for d in dispatchers:
                await d.aclose()
                await d.bot.shutdown()
        for result in results:
            if isinstance(result, Exception):
                raise result

    async_to_sync(go)()


def sends(tg: SandboxTelegram, bot_id: int, chat_id: int | None = None) -> list[dict]:
    """The bot's sendMessage calls (to one chat), refused ones included. Parameters are
    as they arrived: python-telegram-bot posts form fields, so values are strings."""
    calls = tg.calls(bot_id, "sendMessage")
    if chat_id is None:
        return calls
    return [c for c in calls if int(c["params"]["chat_id"]) == chat_id]


def refused(tg: SandboxTelegram, bot_id: int) -> list[dict]:
    return [c for c in sends(tg, bot_id) if c["status"] == 429]


class FaultyProxy:
    """An HTTP proxy in front of the sandbox that misbehaves on the first ``failures``
    sendMessage calls: ``mode="5xx"`` answers 500/502 itself (Telegram refused: nothing was
    sent); ``mode="drop"`` forwards the call, then drops the connection without an answer
    (Telegram may well have sent it); ``mode="slow"`` forwards and answers ``delay``
    seconds late (a kill in between leaves the send unrecorded)."""

    def __init__(self, upstream: str, *, mode: str, failures: int = 1, delay: float = 0.0):
        self.upstream, self.mode, self.failures, self.delay = upstream, mode, failures, delay
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        faulty = request.path.endswith("/sendMessage") and self.failures > 0
        if faulty:
            self.failures -= 1
        if faulty and self.mode == "5xx":
            status = 500 if self.failures % 2 else 502
            return web.json_response(
                {"ok": False, "error_code": status, "description": "Internal Server Error"},
                status=status,
            )
        async with aiohttp.ClientSession() as session:
            async with session.post(
                self.upstream + request.path_qs,
                data=body,
                headers={"Content-Type": request.headers.get("Content-Type", "")},
            ) as answer:
                payload, status = await answer.read(), answer.status
        if faulty and self.mode == "drop":
            request.transport.close()  # the request reached Telegram; the answer is lost
            raise ConnectionResetError("dropped")
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        return web.Response(body=payload, status=status, content_type="application/json")

    def start(self) -> str:
        ready = threading.Event()

        def serve() -> None:
            loop = self._loop = asyncio.new_event_loop()
            app = web.Application()
            app.router.add_route("POST", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.base_url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
