"""The sandbox Telegram for every test package (a plugin registered by tests/conftest.py):
``sandbox_server``, one server for the session with flood control off; ``tg``, that server
emptied for a test with the platform's Bot API calls pointed at it; and
``sandbox(limits)``, a server of its own started for one test (its own limits, clock or
flood counts). tests/helpers.py puts a tenant's bot there and reaches it with
python-telegram-bot. ``x_server``: a sandbox X per test module, on X's own limits unless
the module sets ``X_LIMITS`` (a ``sandbox.x.Limits``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.telegram import Limits, SandboxTelegram
from sandbox.x import SandboxX


def _forget_process_state() -> None:
    """Per-process caches keyed by ids the sandbox hands out again after a reset."""
    from botruntime.context import tenants_forget
    from community.group_config import group_config_forget
    from community.rules import FLOOD

    group_config_forget()
    tenants_forget()
    FLOOD.clear()


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxTelegram]:
    # Webhook retries come fast here (Telegram waits longer): retry tests stay short.
    server = SandboxTelegram(limits=Limits.off(), webhook_backoff=(0.02, 0.1))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tg(sandbox_server: SandboxTelegram, settings) -> Iterator[SandboxTelegram]:
    """The session's sandbox, empty, the platform pointed at it, no cached group state."""
    sandbox_server.reset()
    settings.TELEGRAM_API_BASE = sandbox_server.base_url
    _forget_process_state()
    yield sandbox_server
    _forget_process_state()


@pytest.fixture
def sandbox() -> Iterator[Any]:
    """``sandbox(limits, clock=...)``: a sandbox Telegram of this test's own, started with
    ``limits`` (flood control off by default) and stopped after the test."""
    started: list[SandboxTelegram] = []

    def make(limits: Limits | None = None, **options: Any) -> SandboxTelegram:
        server = SandboxTelegram(limits=limits or Limits.off(), **options)
        server.start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def x_server(request) -> Iterator[SandboxX]:
    server = SandboxX(limits=getattr(request.module, "X_LIMITS", None))
    server.start()
    yield server
    server.stop()
