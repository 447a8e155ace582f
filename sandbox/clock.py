"""The sandboxes' clock: epoch seconds, real by default. A ManualClock lets a test run a
scenario of hours in seconds (rate-limit windows, post timestamps, token expiry, stream
heartbeats) by reading a clock it moves by hand."""

from __future__ import annotations

import time
from collections.abc import Callable

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
