"""Helpers for the sandbox provider's tests: a webhook receiver on a free port that records
what arrives and answers scripted statuses, an independent check of the signature header,
and calls of the provider's API and control API over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

API_KEY = "sk_test_provider_key"
SECRET = "whsec_test_provider_secret"
BACKOFF = (0.02, 0.08)  # seconds: retries come fast in tests
MAX_ATTEMPTS = 4


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A webhook endpoint: records every POST and answers the next status in ``answers``
    (200 once they run out)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: deque[int] = deque()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._changed:
                    receiver.received.append(
                        Received(dict(self.headers.items()), body, time.monotonic())
                    )
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver._changed.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/provider"
        # A short poll interval: shutdown() waits for the loop to notice it.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first ``count`` deliveries, once they have arrived."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.received) >= count, timeout)
            assert arrived, f"{len(self.received)} of {count} deliveries arrived"
            return list(self.received[:count])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def signature_of(received: Received, secret: str = SECRET) -> tuple[int, bool]:
    """(the signed timestamp, whether v1 is HMAC-SHA256(secret, f"{t}.{raw body}")),
    computed here rather than with the sandbox's own signing module."""
    parts = dict(p.split("=", 1) for p in received.headers["X-Provider-Signature"].split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    return timestamp, hmac.compare_digest(expected, parts["v1"])


@cache
def http() -> httpx.Client:
    return httpx.Client(timeout=10)


def payout(
    base: str,
    body: dict[str, Any],
    *,
    key: str | None = "key-1",
    api_key: str = API_KEY,
) -> httpx.Response:
    """POST /v1/payouts with a bearer key and an Idempotency-Key (None: without one)."""
    headers = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return http().post(f"{base}/v1/payouts", json=body, headers=headers)


def control(base: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return http().request(method, f"{base}/control{path}", json=body)
