"""Stripe-style webhook signatures as the adapters check them: the exact body and a fresh
timestamp pass; anything else is refused with its own code."""

from __future__ import annotations

import pytest

from tests.wallet.helpers import PROVIDER_SECRET, signature_for
from wallet.providers.base import WebhookRefused
from wallet.providers.stripe_style import signature_verify

BODY = b'{"id":"evt_1"}'
NOW = 1_800_000_000


def check(header: str | None, body: bytes = BODY, now: int = NOW) -> int:
    return signature_verify(
        secret=PROVIDER_SECRET, header=header, body=body, now=now, tolerance=300
    )


def test_the_signed_body_within_the_tolerance_passes():
    assert check(signature_for(BODY, at=NOW - 300)) == NOW - 300
    assert check(signature_for(BODY, at=NOW + 300)) == NOW + 300
    # A secret being rotated: one of several v1 values matches.
    rotated = signature_for(BODY, at=NOW, secret="old") + "," + signature_for(BODY, at=NOW)
    assert check(rotated.replace(f",t={NOW}", "")) == NOW


@pytest.mark.parametrize(
    ("header", "body", "code"),
    [
        (None, BODY, "signature_missing"),
        ("", BODY, "signature_missing"),
        ("v1=abc", BODY, "signature_malformed"),
        (f"t={NOW}", BODY, "signature_malformed"),
        ("t=soon,v1=abc", BODY, "signature_malformed"),
        (signature_for(BODY, at=NOW, secret="another"), BODY, "signature_invalid"),
        (signature_for(BODY, at=NOW), BODY + b" ", "signature_invalid"),
        (signature_for(BODY, at=NOW - 301), BODY, "stale_timestamp"),
        (signature_for(BODY, at=NOW + 301), BODY, "stale_timestamp"),
    ],
)
def test_anything_else_is_refused(header, body, code):
    with pytest.raises(WebhookRefused) as refused:
        check(header, body)
    assert refused.value.code == code
    assert refused.value.status == (400 if code == "stale_timestamp" else 401)
