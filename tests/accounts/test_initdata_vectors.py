"""Every published initData vector (tests/data/README.md) through accounts.initdata."""

from __future__ import annotations

import time
from typing import Any

import pytest

from accounts import initdata
from tests.accounts.helpers import load_vectors

VECTORS = load_vectors()


def _validate(vector: dict[str, Any]) -> initdata.InitData:
    clock = vector["clock"] or {}
    common = {
        "now": clock.get("now_unix", int(time.time())),
        "max_age": clock.get("expires_in_s", 0),
        "require_auth_date": vector["requires_auth_date"],
    }
    if vector["kind"] == "hmac":
        return initdata.validate_hmac(vector["init_data"], bot_token=vector["bot_token"], **common)
    return initdata.validate_signature(
        vector["init_data"],
        bot_id=vector["bot_id"],
        public_key_hex=vector["public_key_hex"],
        **common,
    )


def test_the_vector_file_is_complete() -> None:
    assert len(VECTORS) == 47
    assert len({v["id"] for v in VECTORS}) == 47
    kinds = {(v["kind"], v["expected"]) for v in VECTORS}
    assert kinds == {
        ("hmac", "valid"),
        ("hmac", "invalid"),
        ("ed25519", "valid"),
        ("ed25519", "invalid"),
    }


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    if vector["expected"] == "valid":
        data = _validate(vector)
        assert data.fields.get("hash") or data.fields.get("signature")
    else:
        with pytest.raises(initdata.InitDataError) as err:
            _validate(vector)
        assert err.value.code == vector["reason"]


@pytest.mark.parametrize("environment", ["production", "test"])
def test_configured_telegram_keys_are_the_ones_the_vectors_were_signed_with(
    environment: str,
) -> None:
    keys = {v["public_key_hex"] for v in VECTORS if v.get("public_key") == environment}
    assert keys == {initdata.TELEGRAM_PUBLIC_KEYS[environment]}


def test_real_production_signatures_verify_with_the_configured_production_key() -> None:
    production = [v for v in VECTORS if v.get("public_key") == "production"]
    valid = [v for v in production if v["expected"] == "valid"]
    assert len(valid) == 6
    for vector in valid:
        data = initdata.validate_signature(
            vector["init_data"],
            bot_id=vector["bot_id"],
            public_key_hex=initdata.TELEGRAM_PUBLIC_KEYS["production"],
            now=int(time.time()),
            max_age=0,
        )
        assert data.user()["id"] > 0
        # The same payload is not Telegram's signature for any other bot, nor under the
        # test environment's key.
        for bot_id, key in ((vector["bot_id"] + 1, "production"), (vector["bot_id"], "test")):
            with pytest.raises(initdata.InitDataError) as err:
                initdata.validate_signature(
                    vector["init_data"],
                    bot_id=bot_id,
                    public_key_hex=initdata.TELEGRAM_PUBLIC_KEYS[key],
                    now=int(time.time()),
                    max_age=0,
                )
            assert err.value.code == "bad_signature"


def test_real_telegram_payloads_expire_under_the_default_max_age(settings) -> None:
    """Telegram-generated vectors are years old: with the platform's 24 h limit they are
    refused as expired, not as forged."""
    real = [v for v in VECTORS if v["origin"] == "telegram_generated" and v["expected"] == "valid"]
    assert real
    for vector in real:
        vector = {**vector, "clock": {"expires_in_s": settings.INIT_DATA_MAX_AGE_SECONDS}}
        with pytest.raises(initdata.InitDataError) as err:
            _validate(vector)
        assert err.value.code == "expired"
