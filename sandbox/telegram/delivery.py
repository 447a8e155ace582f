"""Hands queued updates to bots: answers long polls as updates arrive, and posts them to
a bot's webhook with its secret token, one at a time and in order, retrying failures with
exponential backoff like Telegram (the update stays queued until the webhook answers 2xx;
getWebhookInfo shows the pending count and the last error).

Runs on the server's event loop; other threads only call ``notify``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from sandbox.serving import retry_delay
from sandbox.telegram.world import BotState, Webhook, World

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# A webhook reply may carry a Bot API call ({"method": ..., params}); Telegram runs it.
Execute = Callable[[BotState, str, dict[str, Any]], Awaitable[None]]


class Delivery:
    def __init__(
        self,
        world: World,
        *,
        backoff: tuple[float, float],
        timeout: float,
        execute: Execute,
    ) -> None:
        self.world = world
        self.backoff = backoff
        self.timeout = timeout
        self.execute = execute
        self.loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._waiters: dict[int, asyncio.Future[str]] = {}
        self._events: dict[int, asyncio.Event] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}

    # ---- lifecycle (loop thread) ------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": "Bragabot sandbox Telegram"},
        )

    async def stop(self) -> None:
        self.reset()
        for task in list(self._workers.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
        self.loop = None

    def reset(self) -> None:
        """Forget every poll and worker (the world was cleared)."""
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_result("reset")
        self._waiters.clear()
        for task in self._workers.values():
            task.cancel()
        self._workers.clear()

    # ---- any thread -------------------------------------------------------------------
    def notify(self, bot_id: int) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake, bot_id)

    def notify_reset(self) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self.reset)

    # ---- long polling -----------------------------------------------------------------
    def _wake(self, bot_id: int) -> None:
        waiter = self._waiters.get(bot_id)
        if waiter is not None and not waiter.done():
            waiter.set_result("update")
        event = self._events.get(bot_id)
        if event is not None:
            event.set()

    async def wait_for_update(self, bot_id: int, timeout: float) -> str:
        """Wait until an update arrives: "update", "timeout", "terminated" (a newer
        getUpdates took over), "webhook" (a webhook was set) or "reset". The caller has
        checked the queue just before, with no await in between, so no wake-up is lost."""
        previous = self._waiters.get(bot_id)
        if previous is not None and not previous.done():
            previous.set_result("terminated")
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiters[bot_id] = waiter
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            return "timeout"
        finally:
            if self._waiters.get(bot_id) is waiter:
                del self._waiters[bot_id]

    # ---- webhooks ---------------------------------------------------------------------
    def webhook_changed(self, bot_id: int, webhook: Webhook | None) -> None:
        """Called on the loop after setWebhook/deleteWebhook changed ``bot.webhook``."""
        task = self._workers.pop(bot_id, None)
        if task is not None:
            task.cancel()
        if webhook is None:
            return
        waiter = self._waiters.get(bot_id)
        if waiter is not None and not waiter.done():
            waiter.set_result("webhook")
        self._workers[bot_id] = asyncio.get_running_loop().create_task(
            self._work(bot_id, webhook), name=f"webhook-{bot_id}"
        )

    def _event(self, bot_id: int) -> asyncio.Event:
        event = self._events.get(bot_id)
        if event is None:
            event = self._events[bot_id] = asyncio.Event()
        return event

    async def _work(self, bot_id: int, webhook: Webhook) -> None:
        failures = 0
        while True:
            event = self._event(bot_id)
            event.clear()
            with self.world.lock:
                bot = self.world.bots.get(bot_id)
                if bot is None or bot.webhook is not webhook:
                    return
                update = json.dumps(bot.updates[0]) if bot.updates else None
            if update is None:
                await event.wait()
                continue
            error, reply = await self._post(webhook, update)
            update_id = json.loads(update)["update_id"]
            with self.world.lock:
                if error is None:
                    bot.updates = [u for u in bot.updates if u["update_id"] != update_id]
                    failures = 0
                else:
                    webhook.last_error_date = self.world.now()
                    webhook.last_error_message = error
                    failures += 1
            if error is not None:
                logger.info(
                    "sandbox.telegram.webhook_failed",
                    extra={"bot_id": bot_id, "update_id": update_id, "error": error},
                )
                base, cap = self.backoff
                await asyncio.sleep(retry_delay(failures, base=base, cap=cap))
            elif reply is not None:
                await self._run_reply(bot, reply)

    async def _post(self, webhook: Webhook, body: str) -> tuple[str | None, Any]:
        """(error or None, JSON reply or None)."""
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[SECRET_HEADER] = webhook.secret_token
        try:
            async with self._session.post(webhook.url, data=body, headers=headers) as response:
                if not 200 <= response.status < 300:
                    return (
                        f"Wrong response from the webhook: {response.status} {response.reason}",
                        None,
                    )
                if response.content_type != "application/json":
                    return None, None
                try:
                    return None, await response.json()
                except ValueError:
                    return None, None
        except TimeoutError:
            return "Read timeout expired", None
        except aiohttp.ClientConnectorError:
            return "Connection refused", None
        except aiohttp.ClientError as exc:
            return f"Connection error: {type(exc).__name__}", None

    async def _run_reply(self, bot: BotState, reply: Any) -> None:
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            params = {k: v for k, v in reply.items() if k != "method"}
            await self.execute(bot, reply["method"], params)
