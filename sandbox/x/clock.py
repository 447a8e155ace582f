"""The sandbox's clock: epoch seconds, real by default. A ManualClock lets a test run a
scenario of hours in seconds: post timestamps, rate-limit windows, token expiry and
stream heartbeats all read it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

real_clock: Clock = time.time


class ManualClock:
    """A clock tests move by hand: ``clock.advance(900)``. Starts on 2026-06-01 UTC."""

    def __init__(self, start: float = 1_780_272_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def iso(ts: float) -> str:
    """X's timestamp format: ``2026-06-01T00:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
