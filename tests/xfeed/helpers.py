"""Plain helpers of the X feed tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from history.services import Actor
from sandbox.x import ManualClock
from xfeed.models import Kol
from xfeed.services.kols import kol_set


def clock_now(clock: ManualClock) -> datetime:
    return datetime.fromtimestamp(clock.now, UTC)


def kol_add(tenant: Any, username: str, **fields: Any) -> Kol:
    """A KOL through the service (the account must exist on the sandbox X)."""
    values: dict[str, Any] = {
        "tier": "micro",
        "rate_amount": 100_000_000,
        "rate_currency": "USDT",
        "billing": "per_post",
        "campaigns": [],
        **fields,
    }
    kol, _ = kol_set(tenant=tenant, username=username, actor=Actor.system(), **values)
    return kol


def calls_to(x: Any, path: str) -> list[dict[str, Any]]:
    return [c for c in x.calls() if c["path"] == path]
