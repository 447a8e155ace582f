"""Stripe-style webhook signatures, used by many processors: the header
``<Name>: t=<unix ts>,v1=<hex>`` where ``v1`` is HMAC-SHA256 with the webhook secret over
``f"{t}.{raw body}"``. Several ``v1`` values may be given (a secret being rotated)."""

from __future__ import annotations

import hashlib
import hmac

from wallet.providers.base import WebhookRefused


def signature_verify(
    *, secret: str, header: str | None, body: bytes, now: float, tolerance: int
) -> int:
    """The signed timestamp, or ``WebhookRefused``: 401 ``signature_missing`` /
    ``signature_malformed`` / ``signature_invalid``, 400 ``stale_timestamp`` (a replay of
    an old delivery, or a clock far off)."""
    if not header:
        raise WebhookRefused("no signature header", code="signature_missing", status=401)
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise WebhookRefused(
            "the signature header lacks t= or v1=", code="signature_malformed", status=401
        )
    expected = hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    # Every candidate is compared, in constant time each: no early exit tells which.
    matched = [hmac.compare_digest(expected, c) for c in candidates]
    if not any(matched):
        raise WebhookRefused(
            "the signature does not match the body", code="signature_invalid", status=401
        )
    if abs(now - timestamp) > tolerance:
        raise WebhookRefused(
            f"the signed timestamp is more than {tolerance} s away: a replayed delivery",
            code="stale_timestamp",
        )
    return timestamp
