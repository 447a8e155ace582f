"""X feed fixtures: a sandbox X on a ManualClock per test module (``x_server``, ``clock``),
emptied for each test with the platform's app token registered and the reader pointed at
it (``x``); KOL tests move the clock so that a week of snapshots runs in seconds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.x import ManualClock, SandboxX

APP_TOKEN = "platform-app-token"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def x_server(clock: ManualClock) -> Iterator[SandboxX]:
    sandbox = SandboxX(clock=clock)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def x(x_server: SandboxX, settings) -> SandboxX:
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    return x_server
