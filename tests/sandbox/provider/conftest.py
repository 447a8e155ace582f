"""Fixtures for the sandbox provider's tests: a webhook receiver, and a provider of the
test's own pointed at it, with fast retries."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.provider import SandboxProvider
from tests.sandbox.provider.helpers import API_KEY, BACKOFF, MAX_ATTEMPTS, SECRET, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def provider(receiver: Receiver) -> Iterator[SandboxProvider]:
    server = SandboxProvider(
        api_key=API_KEY,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_backoff=BACKOFF,
        webhook_max_attempts=MAX_ATTEMPTS,
    )
    server.start()
    yield server
    server.stop()
