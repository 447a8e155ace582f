"""Webhook signatures, Stripe-style: the header ``X-Provider-Signature: t=<unix ts>,v1=<hex>``
where ``v1`` is HMAC-SHA256 with the webhook secret over ``f"{t}.{raw body}"``. The
timestamp is signed too, so a receiver that refuses old ones (``tolerance``) cannot be
replayed an intercepted delivery later.

``verify`` is the receiving side, for tests and as the reference an adapter follows: it
compares in constant time, accepts any of several ``v1`` values (a secret being rotated)
and refuses timestamps outside the tolerance in either direction.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Provider-Signature"
DEFAULT_TOLERANCE = 300  # seconds; what a receiver should accept (Stripe's default too)


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` with ``secret``."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={compute(secret, timestamp, body)}"


class SignatureError(ValueError):
    """Why a delivery's signature is refused: ``code`` is "missing", "malformed",
    "mismatch" or "timestamp"."""

    def __init__(self, detail: str, code: str) -> None:
        super().__init__(detail)
        self.code = code


def verify(
    secret: str,
    signature: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check a delivery; return its signed timestamp, or raise SignatureError."""
    if not signature:
        raise SignatureError("no signature header", "missing")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in signature.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("the header lacks t= or v1=", "malformed")
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no v1 signature matches the body", "mismatch")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("the timestamp is outside the tolerance", "timestamp")
    return timestamp
