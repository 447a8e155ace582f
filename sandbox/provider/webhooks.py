"""Delivers events to the configured webhook URL: a signed POST per event, retried on a
non-2xx answer or a connection error with doubling delays up to ``max_attempts``; and
single deliveries on demand, as they are (a duplicate) or deliberately broken (a wrong
signature, an old timestamp, no signature, a body changed after signing).

Runs on the server's event loop; other threads go through the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable

import aiohttp

from sandbox.provider import signing
from sandbox.provider.books import Attempt, Books, Event
from sandbox.serving import retry_delay

logger = logging.getLogger(__name__)

FAULTS = ("wrong_signature", "old_timestamp", "no_signature", "altered_body")
OLD_TIMESTAMP_AGE = 600  # seconds: twice the tolerance a receiver should keep


class Webhooks:
    def __init__(
        self,
        books: Books,
        *,
        target: Callable[[], tuple[str | None, str]],
        backoff: tuple[float, float],
        max_attempts: int,
        timeout: float,
    ) -> None:
        self.books = books
        self.target = target  # () -> (url or None, secret), read at each delivery
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": "Bragabot sandbox provider"},
        )

    async def stop(self) -> None:
        tasks = list(self.tasks.values())
        self.cancel_all()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def cancel_all(self) -> None:
        for task in self.tasks.values():
            task.cancel()
        self.tasks.clear()

    # ---- on the loop ------------------------------------------------------------------
    def deliver(self, event: Event) -> None:
        """Start delivering the event (with retries) unless that is under way already."""
        if event.id in self.tasks:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(event), name=event.id)
        self.tasks[event.id] = task
        task.add_done_callback(lambda _: self._forget(event.id, task))

    def _forget(self, event_id: str, task: asyncio.Task[None]) -> None:
        if self.tasks.get(event_id) is task:
            del self.tasks[event_id]

    async def _deliver(self, event: Event) -> None:
        failures = 0
        while True:
            attempt = await self.attempt(event, "delivery" if failures == 0 else "retry")
            if attempt.ok:
                return
            if attempt.error == "no webhook URL configured":
                return  # delivered once one is configured
            failures += 1
            if failures >= self.max_attempts:
                with self.books.lock:
                    event.state = "failed"
                logger.info(
                    "sandbox.provider.webhook_gave_up",
                    extra={"event_id": event.id, "attempts": failures},
                )
                return
            base, cap = self.backoff
            await asyncio.sleep(retry_delay(failures, base=base, cap=cap))

    async def attempt(self, event: Event, kind: str, fault: str | None = None) -> Attempt:
        """POST the event once; record and return the attempt. A fault breaks this one
        delivery on purpose; it never changes the event's state."""
        url, secret = self.target()
        body = event.body
        timestamp = self.books.now()
        if fault == "old_timestamp":
            timestamp -= OLD_TIMESTAMP_AGE
        signature: str | None = signing.header(secret, timestamp, body)
        if fault == "wrong_signature":
            signature = signing.header(secret + "-not-the-secret", timestamp, body)
        elif fault == "no_signature":
            signature = None
        elif fault == "altered_body":
            body = _altered(body)
        status: int | None = None
        error: str | None = "no webhook URL configured"
        if url is not None:
            status, error = await self._post(url, body, signature)
        attempt = Attempt(
            at=self.books.now(),
            kind=f"forged:{fault}" if fault else kind,
            signature=signature,
            status=status,
            error=error,
        )
        with self.books.lock:
            event.attempts.append(attempt)
            if attempt.ok and fault is None:
                event.state = "delivered"
        if not attempt.ok:
            logger.info(
                "sandbox.provider.webhook_failed",
                extra={"event_id": event.id, "status": status, "error": error, "kind": kind},
            )
        return attempt

    async def _post(
        self, url: str, body: bytes, signature: str | None
    ) -> tuple[int | None, str | None]:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers[signing.SIGNATURE_HEADER] = signature
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return response.status, f"{response.status} {response.reason}"
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientConnectorError:
            return None, "connection refused"
        except aiohttp.ClientError as exc:
            return None, f"connection error: {type(exc).__name__}"


def _altered(body: bytes) -> bytes:
    """The body with its amount changed (a tenfold deposit, say), as a man in the middle
    would change it after the provider signed it."""
    payload = json.loads(body)
    data = payload.get("data", {})
    data["amount"] = data.get("amount", 0) * 10 + 1
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
