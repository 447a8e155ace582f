"""Fixtures for the sandbox X's tests: a server per test on a manual clock, with rate
limits off (``x``) or X's own (``limited``), an app with a bearer token, and a small
world (``people``: alice, bob, carol). helpers.py reaches it with tweepy and raw HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.x import Limits, ManualClock, SandboxX
from tests.sandbox_x.helpers import OTHER_TOKEN, TOKEN


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def _started(limits: Limits, clock: ManualClock) -> Iterator[SandboxX]:
    server = SandboxX(limits=limits, clock=clock, heartbeat_seconds=20)
    server.start()
    server.add_app(TOKEN, "app1")
    server.add_app(OTHER_TOKEN, "app2")
    yield server
    server.stop()


@pytest.fixture
def x(clock: ManualClock) -> Iterator[SandboxX]:
    yield from _started(Limits.off(), clock)


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[SandboxX]:
    yield from _started(Limits(), clock)


@pytest.fixture
def people(x: SandboxX) -> dict[str, dict]:
    """Three accounts; bob and carol follow alice."""
    found = {
        "alice": x.add_account("alice", "Alice", description="first", verified=True),
        "bob": x.add_account("bob", "Bob"),
        "carol": x.add_account("carol", "Carol"),
    }
    x.follow("bob", "alice")
    x.follow("carol", "alice")
    x.follow("alice", "carol")
    return found
