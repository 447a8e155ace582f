"""Flood control like Telegram's, on an injectable clock.

Telegram documents its limits loosely (Bots FAQ): about 30 messages per second per bot,
at most 20 messages per minute in one group, about one message per second in one chat
with short bursts allowed, and up to 1,000 messages per second for sends paid with
``allow_paid_broadcast``. Every rule here is a sliding window counted per bot; a request
over any window is refused with 429 and ``retry_after`` = whole seconds until the window
has room again (at least 1), and a refused request does not count.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from sandbox.clock import Clock
from sandbox.telegram.errors import too_many_requests


@dataclass(frozen=True)
class Limits:
    """Rates per bot. ``None`` switches a rule off; ``Limits.off()`` switches all off.

    ``chat_burst`` messages may go to one chat at once; the window they must fit in is
    ``chat_burst / per_chat_per_s`` seconds, so the long-run rate stays per_chat_per_s."""

    per_bot_per_s: float | None = 30
    per_group_per_min: float | None = 20
    per_chat_per_s: float | None = 1
    paid_per_s: float | None = 1000
    chat_burst: int = 3

    @classmethod
    def off(cls) -> Limits:
        return cls(per_bot_per_s=None, per_group_per_min=None, per_chat_per_s=None, paid_per_s=None)


class _Window:
    """Timestamps of the sends inside the last ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.times: deque[float] = deque()

    def wait(self, now: float, limit: float) -> float:
        """Seconds until one more send fits under ``limit`` (0 when it fits now)."""
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        allowed = max(int(limit), 1)
        if len(self.times) < allowed:
            return 0.0
        # The send that must leave the window before there is room for one more.
        return self.times[len(self.times) - allowed] + self.seconds - now


class FloodControl:
    """Counts sends and edits per bot, per group and per chat. Not thread-safe: the
    sandbox calls it under its state lock."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._windows: dict[tuple, _Window] = {}

    def reset(self) -> None:
        self._windows.clear()

    def _window(self, key: tuple, seconds: float) -> _Window:
        window = self._windows.get(key)
        if window is None or window.seconds != seconds:
            window = self._windows[key] = _Window(seconds)
        return window

    def _rules(
        self, *, bot_id: int, chat_id: int, is_group: bool, is_send: bool, paid: bool
    ) -> list[tuple[_Window, float]]:
        limits, rules = self.limits, []
        # One log per bot for paid and unpaid sends: paid ones may fill it up to 1,000/s,
        # unpaid ones only while it holds fewer than 30 from the last second.
        bot_rate = limits.paid_per_s if paid else limits.per_bot_per_s
        if is_send and bot_rate:
            rules.append((self._window(("bot", bot_id), 1.0), bot_rate))
        if is_group and limits.per_group_per_min:
            rules.append((self._window(("group", bot_id, chat_id), 60.0), limits.per_group_per_min))
        if limits.per_chat_per_s:
            burst = max(limits.chat_burst, 1)
            seconds = burst / limits.per_chat_per_s
            rules.append((self._window(("chat", bot_id, chat_id), seconds), burst))
        return rules

    def take(
        self, *, bot_id: int, chat_id: int, is_group: bool, is_send: bool, paid: bool = False
    ) -> None:
        """Count one message, or raise ApiError 429 without counting it. Sends count
        against every rule; edits (``is_send=False``) only against the chat's and group's."""
        now = self.clock()
        rules = self._rules(
            bot_id=bot_id, chat_id=chat_id, is_group=is_group, is_send=is_send, paid=paid
        )
        wait = max((window.wait(now, limit) for window, limit in rules), default=0.0)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait - 1e-9)))
        for window, _ in rules:
            window.times.append(now)
