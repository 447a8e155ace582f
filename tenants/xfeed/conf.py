"""The X feed's settings: each from Django settings (tests override them there), else the
environment, else the default (README, Configuration)."""

from __future__ import annotations

import os

from django.conf import settings


def _value(name: str, default: str) -> str:
    configured = getattr(settings, name, None)
    if configured is not None:
        return str(configured)
    return os.environ.get(name, "").strip() or default


def xfeed_mode() -> str:
    """``stream`` (the platform's filtered stream, search only to backfill) or ``poll``."""
    return _value("XFEED_MODE", "stream").lower()


def poll_seconds() -> int:
    """The shortest interval between two searches of one compiled query."""
    return max(1, int(_value("XFEED_POLL_SECONDS", "60")))


def poll_max_seconds() -> int:
    """The longest: a quiet query backs off up to this."""
    return max(poll_seconds(), int(_value("XFEED_POLL_MAX_SECONDS", "900")))


def spam_min_account_days() -> int:
    """An author whose account is younger than this when posting is ``new_account``."""
    return int(_value("XFEED_SPAM_MIN_ACCOUNT_DAYS", "7"))
