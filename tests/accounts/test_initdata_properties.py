"""Property tests: a mutated initData never authenticates unless it still says exactly the
same thing (same decoded fields), for HMAC and Ed25519 alike."""

from __future__ import annotations

import json
import string
import time
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts import initdata
from accounts.authentication import InitDataFailed, validate_for_bots
from accounts.initdata import sign_hmac
from tests.accounts.helpers import sign_ed25519
from tests.helpers import tenant_bot_token

TOKEN = "7000000001:AAHpropertytestbottokenxxxxxxxxxxxxx"
BOT_ID = 7000000002
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
KEY_HEX = KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
NOW = int(time.time())
FIELDS = {
    "auth_date": str(NOW - 10),
    "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
    "user": json.dumps(
        {
            "id": 279058397,
            "first_name": "Vladislav + - ? /",
            "username": "vd",
            "language_code": "ru",
            "is_premium": True,
        },
        separators=(",", ":"),
    ),
    "chat_type": "private",
}
HMAC_RAW = sign_hmac(FIELDS, TOKEN)
SIGNED_RAW = sign_ed25519(FIELDS, bot_id=BOT_ID, private_key=KEY)
# Characters that matter in a query string, plus ordinary ones.
ALPHABET = st.sampled_from([*'&=%+0123456789abcdefABCDEF_-.xyz{}":, ', "%25", "%26"])


@st.composite
def mutations(draw, raw: str) -> str:
    """``raw`` with one to three random edits: replace, insert or delete characters,
    duplicate or drop a field, or swap two fields."""
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "dup", "drop", "swap"]))
        parts = raw.split("&")
        if op in {"dup", "drop", "swap"} and len(parts) > 1:
            i = draw(st.integers(0, len(parts) - 1))
            j = draw(st.integers(0, len(parts) - 1))
            if op == "dup":
                parts.insert(j, parts[i])
            elif op == "drop":
                del parts[i]
            else:
                parts[i], parts[j] = parts[j], parts[i]
            raw = "&".join(parts)
            continue
        pos = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "replace" and raw:
            raw = raw[:pos] + draw(ALPHABET) + raw[pos + 1 :]
        elif op == "insert":
            raw = raw[:pos] + draw(ALPHABET) + raw[pos:]
        elif raw:
            raw = raw[:pos] + raw[pos + 1 :]
    return raw


def _same_meaning(mutated: str, original: str) -> bool:
    try:
        return initdata.parse(mutated).fields == initdata.parse(original).fields
    except initdata.InitDataError:
        return False


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_mutated_hmac_initdata_never_validates(data) -> None:
    mutated = data.draw(mutations(HMAC_RAW))
    try:
        validate_for_bots(mutated, [(7000000001, TOKEN)], now=NOW)
    except InitDataFailed:
        return
    assert _same_meaning(mutated, HMAC_RAW), mutated


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_mutated_ed25519_initdata_never_validates(data) -> None:
    mutated = data.draw(mutations(SIGNED_RAW))
    try:
        initdata.validate_signature(
            mutated, bot_id=BOT_ID, public_key_hex=KEY_HEX, now=NOW, max_age=86400
        )
    except initdata.InitDataError:
        return
    assert _same_meaning(mutated, SIGNED_RAW), mutated


@given(bot_id=st.integers(1, 2**53).filter(lambda b: b != BOT_ID))
def test_ed25519_signature_is_bound_to_the_bot(bot_id: int) -> None:
    with pytest.raises(initdata.InitDataError) as err:
        initdata.validate_signature(
            SIGNED_RAW, bot_id=bot_id, public_key_hex=KEY_HEX, now=NOW, max_age=86400
        )
    assert err.value.code == "bad_signature"


@given(raw=st.text(max_size=300))
def test_arbitrary_text_never_validates_and_only_raises_init_data_errors(raw: str) -> None:
    with pytest.raises(InitDataFailed):
        validate_for_bots(raw, [(7000000001, TOKEN), (BOT_ID, "")], now=NOW)


def test_mutated_initdata_never_authenticates_through_the_api(tenant) -> None:
    original = sign_hmac({**FIELDS, "auth_date": str(int(time.time()))}, tenant_bot_token(tenant))
    host = tenant.domains.first().domain

    @settings(max_examples=40, deadline=None)
    @given(data=st.data())
    def check(data) -> None:
        raw = data.draw(mutations(original))
        response = APIClient().get("/api/v1/me", HTTP_HOST=host, HTTP_AUTHORIZATION="tma " + raw)
        if _same_meaning(raw, original):
            assert response.status_code == 200
        else:
            assert response.status_code == 401, raw
            assert set(response.json()) == {"detail", "code"}

    check()


@example(auth_date="\u00b2", signature="", hash_="x")
@example(auth_date="9" * 5000, signature="", hash_="x")
@example(auth_date="1", signature="\u00e9" * 86, hash_="x")
@given(
    auth_date=st.text(min_size=1, max_size=12),
    signature=st.text(max_size=100),
    hash_=st.text(min_size=1, max_size=80),
)
def test_any_field_values_are_refused_cleanly(auth_date: str, signature: str, hash_: str) -> None:
    """Whatever the values, validation ends in an InitDataError, never another exception."""
    raw = urlencode({**FIELDS, "auth_date": auth_date, "signature": signature, "hash": hash_})
    with pytest.raises(InitDataFailed):
        validate_for_bots(raw, [(7000000001, TOKEN)], now=NOW)
    with pytest.raises(initdata.InitDataError):
        initdata.validate_signature(
            raw, bot_id=BOT_ID, public_key_hex=KEY_HEX, now=NOW, max_age=86400
        )


_B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


@pytest.mark.parametrize(
    "respell",
    [
        # The last character of 64 bytes carries 2 bits and 4 spare ones: flip a spare one.
        lambda sig: sig[:-1] + _B64URL[_B64URL.index(sig[-1]) ^ 1],
        lambda sig: sig[:10] + "." + sig[10:],  # a character outside the alphabet
        lambda sig: sig + "==",  # padding Telegram does not send
    ],
)
def test_an_ed25519_signature_is_accepted_only_as_telegram_spells_it(respell) -> None:
    fields = initdata.parse(SIGNED_RAW).fields
    respelt = SIGNED_RAW.replace(fields["signature"], respell(fields["signature"]))
    assert respelt != SIGNED_RAW
    with pytest.raises(initdata.InitDataError) as err:
        initdata.validate_signature(
            respelt, bot_id=BOT_ID, public_key_hex=KEY_HEX, now=NOW, max_age=86400
        )
    assert err.value.code == "bad_signature"
