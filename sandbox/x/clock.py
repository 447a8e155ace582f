"""X's timestamps: ``iso`` writes them, ``parse_iso`` reads them (the clock itself is
``sandbox.clock``)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """X's timestamp format: ``2026-06-01T00:00:00.000Z``."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
