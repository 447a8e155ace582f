"""Signatures as a receiver checks them: ``t=<ts>,v1=<hex HMAC-SHA256(secret, "t.body")>``,
compared in constant time, with a timestamp tolerance both ways and room for a second
``v1`` while a secret is rotated."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from sandbox.provider import SignatureError, verify
from sandbox.provider.signing import compute, header

BODY = b'{"id":"evt_1","type":"deposit.succeeded"}'
NOW = 1_800_000_000


def test_the_signature_is_the_hmac_of_the_timestamp_and_the_raw_body():
    expected = hmac.new(b"s3cret", b"1800000000." + BODY, hashlib.sha256).hexdigest()

    assert compute("s3cret", NOW, BODY) == expected
    assert header("s3cret", NOW, BODY) == f"t={NOW},v1={expected}"


def test_a_good_signature_within_the_tolerance_is_accepted():
    assert verify("s3cret", header("s3cret", NOW, BODY), BODY, now=NOW + 299) == NOW
    rotating = f"{header('s3cret', NOW, BODY)},v1={'0' * 64}"
    assert verify("s3cret", rotating, BODY, now=NOW) == NOW


@pytest.mark.parametrize(
    ("signature", "body", "now", "code"),
    [
        (None, BODY, NOW, "missing"),
        ("", BODY, NOW, "missing"),
        (f"v1={compute('s3cret', NOW, BODY)}", BODY, NOW, "malformed"),
        (f"t={NOW}", BODY, NOW, "malformed"),
        (header("other", NOW, BODY), BODY, NOW, "mismatch"),
        (header("s3cret", NOW, BODY), BODY + b" ", NOW, "mismatch"),
        (header("s3cret", NOW, BODY), BODY, NOW + 301, "timestamp"),
        (header("s3cret", NOW, BODY), BODY, NOW - 301, "timestamp"),  # from the future
    ],
)
def test_a_bad_signature_is_refused_with_the_reason(signature, body, now, code):
    with pytest.raises(SignatureError) as refused:
        verify("s3cret", signature, body, now=now)

    assert refused.value.code == code
