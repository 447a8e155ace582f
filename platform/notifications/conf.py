"""Notification settings: Telegram's limits as the dispatcher keeps them, and the
dispatcher's tuning. Each value comes from Django settings (tests override them there),
else from the environment, else the default (see README, Configuration)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings


def _value(name: str, default: float) -> float:
    configured = getattr(settings, name, None)
    if configured is not None:
        return float(configured)
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else float(default)


@dataclass(frozen=True)
class RateLimits:
    """Telegram's documented limits (Bots FAQ): about 30 messages per second per bot,
    20 per minute in one group, about one per second in one chat; paid broadcasts up to
    1,000 per second. ``margin`` widens each window a little so that the time between
    taking a send's place in a window and its arrival at Telegram (which varies with the
    network and a busy process) never lets a window overflow. It is the jitter of that
    time that matters, not its length: the dispatcher spreads its sends and counts a send
    held up by the database again, so 20 ms covers a local network; it also costs the
    bot that share of its rate (30 per 1.02 s = 98%). Raise it where requests to
    Telegram vary more."""

    per_bot_per_s: float = 30
    per_group_per_min: float = 20
    per_chat_per_s: float = 1
    paid_per_s: float = 1000
    margin: float = 0.02

    @classmethod
    def from_settings(cls) -> RateLimits:
        return cls(
            per_bot_per_s=_value("NOTIFICATIONS_PER_BOT_PER_S", cls.per_bot_per_s),
            per_group_per_min=_value("NOTIFICATIONS_PER_GROUP_PER_MIN", cls.per_group_per_min),
            per_chat_per_s=_value("NOTIFICATIONS_PER_CHAT_PER_S", cls.per_chat_per_s),
            paid_per_s=_value("NOTIFICATIONS_PAID_PER_S", cls.paid_per_s),
            margin=_value("NOTIFICATIONS_RATE_MARGIN_S", cls.margin),
        )


def lease_seconds() -> float:
    """How long a claimed row stays reserved for one dispatcher (and how long a send may be
    in flight before the row counts as ``uncertain``)."""
    return _value("NOTIFICATIONS_LEASE_SECONDS", 60)


def max_attempts() -> int:
    return int(_value("NOTIFICATIONS_MAX_ATTEMPTS", 5))


def redis_prefix() -> str:
    """Prefix of the limiter's Redis keys (installations sharing one Redis differ here)."""
    configured = getattr(settings, "NOTIFICATIONS_REDIS_PREFIX", None)
    return str(configured or os.environ.get("NOTIFICATIONS_REDIS_PREFIX") or "bragabot:ntf:")
