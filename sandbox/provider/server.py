"""SandboxProvider: the HTTP server (the ``/v1`` API, the control API, the page) and the
Python control methods tests call.

It serves on its own event loop in a background thread (``start``/``stop``), or in the
foreground (``serve_forever``, used by ``python -m sandbox.provider``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from sandbox.provider import outcomes, page
from sandbox.provider.api import api_routes
from sandbox.provider.books import Books, Event, JSONDict
from sandbox.provider.control import control_routes
from sandbox.provider.errors import ControlError
from sandbox.provider.webhooks import FAULTS, Webhooks
from sandbox.serving import BackgroundServer

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_API_KEY = "sk_sandbox_provider"
DEFAULT_WEBHOOK_SECRET = "whsec_sandbox_provider"
# Without a script, a payout is accepted as pending and succeeds right after.
DEFAULT_OUTCOME = "pending_then_succeeded"


class SandboxProvider(BackgroundServer):
    """A loopback payment provider: deposits arrive as signed webhooks, payouts are
    created through its ``/v1`` API, and tests script both from Python or over HTTP."""

    thread_name = "sandbox-provider"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        api_key: str = DEFAULT_API_KEY,
        webhook_url: str | None = None,
        webhook_secret: str = DEFAULT_WEBHOOK_SECRET,
        webhook_backoff: tuple[float, float] = (1.0, 60.0),
        webhook_max_attempts: int = 8,
        webhook_timeout: float = 10.0,
        default_outcome: str | JSONDict = DEFAULT_OUTCOME,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.books = Books(
            wall_clock=wall_clock,
            emit=self._emit,
            schedule=self._schedule,
            default_outcome=outcomes.parse(default_outcome),
        )
        self.webhooks = Webhooks(
            self.books,
            target=lambda: (self.webhook_url, self.webhook_secret),
            backoff=webhook_backoff,
            max_attempts=webhook_max_attempts,
            timeout=webhook_timeout,
        )
        self._timers: set[asyncio.TimerHandle] = set()

    # ---- lifecycle --------------------------------------------------------------------
    async def _start_site(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.webhooks.start()
        await self._open_site(self.app())
        logger.info("sandbox.provider.started", extra={"base_url": self.base_url})

    async def _stop_site(self) -> None:
        self._cancel_timers()
        await self.webhooks.stop()
        await self._close_site()
        self._loop = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_routes(api_routes(self))
        app.router.add_routes(control_routes(self))
        app.router.add_get("/", self._page)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        return web.Response(text=page.render(self.snapshot()), content_type="text/html")

    # ---- the loop: deliveries and timed settlements -----------------------------------
    def _emit(self, event: Event) -> None:
        """A new event (any thread, under the books' lock): deliver it on the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        if _in_loop(loop):
            # At once, so wait_idle never sees a moment with the delivery not yet begun.
            self.webhooks.deliver(event)
        else:
            loop.call_soon_threadsafe(self.webhooks.deliver, event)

    def _schedule(self, after: float, action: Callable[[], None]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def arm() -> None:
            def fire() -> None:
                self._timers.discard(handle)
                action()

            handle = loop.call_later(after, fire)
            self._timers.add(handle)

        if _in_loop(loop):
            arm()
        else:
            loop.call_soon_threadsafe(arm)

    def _cancel_timers(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    def _on_loop(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` on the server's loop from another thread and wait for it."""
        loop = self._loop
        if loop is None:
            coroutine.close()
            raise ControlError("the provider is not running", code="not_running", status=503)
        if _in_loop(loop):  # waiting here would block the loop it waits for
            coroutine.close()
            raise RuntimeError("call the *_now coroutine on the provider's own loop")
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

    async def _idle(self) -> bool:
        # Callbacks run in order: every delivery or timer asked for before this check
        # has been started by now.
        await asyncio.sleep(0)
        return not self.webhooks.tasks and not self._timers

    # ---- control ----------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every deposit, payout, key, event and scripted outcome; stop deliveries
        and timers (their events are forgotten too)."""
        with self.books.lock:
            self.books.clear()
        loop = self._loop
        if loop is not None:

            async def stop_all() -> None:
                self._stop_all()

            if _in_loop(loop):
                self._stop_all()
            else:
                self._on_loop(stop_all())

    def _stop_all(self) -> None:
        """On the loop: cancel every delivery and timed settlement."""
        self._cancel_timers()
        self.webhooks.cancel_all()

    def configure_webhook(self, url: str | None, secret: str | None = None) -> None:
        """Where events go (None: nowhere, they wait), and the secret that signs them.
        Events still waiting for a URL are delivered to the new one."""
        with self.books.lock:
            self.webhook_url = url
            if secret:
                self.webhook_secret = secret
            waiting = [e for e in self.books.events.values() if e.state == "pending"]
            for event in waiting:
                self._emit(event)

    def deposit(
        self, reference: str, currency: str, amount: int, *, event_id: str | None = None
    ) -> JSONDict:
        """Money arrived for ``reference``: returns ``{"deposit", "event"}``; the
        deposit.succeeded event is on its way to the webhook."""
        with self.books.lock:
            deposit, event = self.books.deposit_add(
                reference=reference, currency=currency, amount=amount, event_id=event_id
            )
            return {"deposit": dict(deposit), "event": event.as_json()}

    def resend(self, event_id: str) -> JSONDict:
        """Deliver the event once more, as it is (its body unchanged, freshly signed): a
        duplicate delivery. Returns the attempt (``status``: the receiver's answer)."""
        return self._on_loop(self.resend_now(event_id))

    async def resend_now(self, event_id: str) -> JSONDict:
        with self.books.lock:
            event = self.books.event(event_id)
        return (await self.webhooks.attempt(event, "resend")).as_json()

    def forge(self, event_id: str, fault: str) -> JSONDict:
        """Deliver the event once, broken on purpose: ``fault`` is "wrong_signature",
        "old_timestamp", "no_signature" or "altered_body". Returns the attempt."""
        return self._on_loop(self.forge_now(event_id, fault))

    async def forge_now(self, event_id: str, fault: str) -> JSONDict:
        if fault not in FAULTS:
            raise ControlError(f"fault is one of {FAULTS}", code="invalid_fault")
        with self.books.lock:
            event = self.books.event(event_id)
        return (await self.webhooks.attempt(event, "forged", fault)).as_json()

    def script_payouts(self, *scripted: str | JSONDict) -> list[JSONDict]:
        """Queue what the next payouts do (see outcomes.py); returns the whole queue."""
        parsed = [outcomes.parse(s) for s in scripted]
        with self.books.lock:
            return self.books.outcomes_add(parsed)

    def clear_script(self) -> None:
        with self.books.lock:
            self.books.outcomes.clear()

    def settle_payout(
        self,
        payout_id: str,
        status: str,
        *,
        failure_code: str | None = None,
        failure_message: str | None = None,
    ) -> JSONDict:
        """A pending payout succeeds or fails now; its webhook follows."""
        with self.books.lock:
            return self.books.payout_settle(
                payout_id, status, failure_code=failure_code, failure_message=failure_message
            )

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no delivery (or retry) is under way and no timed settlement is due;
        TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not self._on_loop(self._idle()):
            if time.monotonic() > deadline:
                raise TimeoutError("the provider is still delivering")
            time.sleep(0.01)

    # ---- inspection -------------------------------------------------------------------
    def events(self, type: str | None = None) -> list[JSONDict]:
        """Events, oldest first, each with its ``state`` and delivery ``attempts``."""
        with self.books.lock:
            return [e.summary() for e in self.books.events.values() if type in (None, e.type)]

    def event(self, event_id: str) -> JSONDict:
        with self.books.lock:
            return self.books.event(event_id).summary()

    def payouts(self) -> list[JSONDict]:
        with self.books.lock:
            return [dict(p) for p in self.books.payouts.values()]

    def deposits(self) -> list[JSONDict]:
        with self.books.lock:
            return [dict(d) for d in self.books.deposits]

    def snapshot(self) -> JSONDict:
        with self.books.lock:
            return {
                "webhook_url": self.webhook_url,
                "deposits": self.deposits(),
                "payouts": self.payouts(),
                "events": self.events(),
                "outcomes": [o.as_json() for o in self.books.outcomes],
            }


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
