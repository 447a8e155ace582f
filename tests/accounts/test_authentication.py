"""``Authorization: tma <initData>`` through the real API (GET /api/v1/me on a tenant domain)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import initdata
from accounts.authentication import SIGNED_BY_TELEGRAM, signed_by_telegram
from accounts.initdata import sign_hmac
from accounts.models import TelegramUser, TenantProfile
from config.cache import caches
from history.models import Entry
from tenancy.models import Bot
from tenancy.selectors import tenant_bots_forget
from tests.accounts.helpers import load_vectors, sign_ed25519
from tests.helpers import bot_token_for, init_data_for, tenant_bot_token

ME = "/api/v1/me"


def _host(tenant) -> str:
    return tenant.domains.first().domain


def _get_me(tenant, header: str | None) -> Any:
    client = APIClient()
    extra = {"HTTP_HOST": _host(tenant)}
    if header is not None:
        extra["HTTP_AUTHORIZATION"] = header
    return client.get(ME, **extra)


def _fields(
    user: dict[str, Any] | None = None, *, auth_date: int | None = None, **extra: str
) -> dict[str, str]:
    user = user if user is not None else {"id": 5001, "first_name": "Eve", "username": "eve"}
    return {
        "auth_date": str(auth_date or int(time.time())),
        "query_id": "AAE-suite",
        "user": json.dumps(user, separators=(",", ":")),
        **extra,
    }


PROFILE = ("username", "first_name", "last_name", "language_code", "photo_url", "is_premium")


def _profile(source: Any) -> tuple:
    """The profile fields of a response body, a TelegramUser or a TenantProfile."""
    if isinstance(source, dict):
        return tuple(source[field] for field in PROFILE)
    return tuple(getattr(source, field) for field in PROFILE)


def _assert_refused(response, code: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": response.json()["detail"], "code": code}
    assert response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("tma")


# --- registration and profile refresh ------------------------------------------------


def test_first_request_registers_the_user_with_the_profile(tenant, client_for):
    client = client_for(
        tenant,
        user_id=5001,
        username="bob",
        last_name="Builder",
        language_code="de",
        photo_url="https://t.me/i/userpic/bob.jpg",
        is_premium=True,
    )
    assert not TelegramUser.objects.filter(telegram_id=5001).exists()

    response = client.get(ME)

    assert response.status_code == 200, response.content
    # Signed by the tenant's own bot: the tenant shows it, the global profile stays empty.
    assert _profile(response.json()) == (
        "bob",
        "Bob",
        "Builder",
        "de",
        "https://t.me/i/userpic/bob.jpg",
        True,
    )
    assert _profile(TelegramUser.objects.get(telegram_id=5001)) == ("", "", "", "", "", False)
    assert _profile(TenantProfile.objects.get(tenant=tenant, user__telegram_id=5001)) == (
        _profile(response.json())
    )
    assert response.json()["telegram_id"] == 5001
    registered = Entry.objects.filter(action="user.registered", target_id="5001")
    assert registered.count() == 1
    assert (registered[0].actor_type, registered[0].actor_id) == ("user", "5001")


def test_later_request_refreshes_profile_and_last_seen(tenant, client_for):
    assert client_for(tenant, user_id=5002, username="carol").get(ME).status_code == 200
    hour_ago = timezone.now() - timedelta(hours=1)
    TelegramUser.objects.filter(telegram_id=5002).update(last_seen=hour_ago)

    response = client_for(tenant, user_id=5002, username="carol_new", last_name="Lee").get(ME)

    assert response.status_code == 200
    assert (response.json()["username"], response.json()["last_name"]) == ("carol_new", "Lee")
    user = TelegramUser.objects.get(telegram_id=5002)
    assert user.last_seen > hour_ago + timedelta(minutes=59)
    assert TelegramUser.objects.filter(telegram_id=5002).count() == 1
    assert Entry.objects.filter(action="user.registered", target_id="5002").count() == 1


def test_repeated_requests_within_a_minute_do_not_rewrite_the_user(tenant, client_for):
    client = client_for(tenant, user_id=5003)
    assert client.get(ME).status_code == 200
    first_seen = TelegramUser.objects.get(telegram_id=5003).last_seen
    assert client.get(ME).status_code == 200
    assert TelegramUser.objects.get(telegram_id=5003).last_seen == first_seen


def test_profile_fields_at_their_limits_are_stored(tenant, client_for):
    photo = "https://t.me/i/userpic/" + "p" * 600
    client = client_for(
        tenant,
        user_id=5006,
        username="u" * 64,
        first_name="f" * 128,
        last_name="l" * 128,
        language_code="x" * 16,
        photo_url=photo,
    )
    assert client.get(ME).status_code == 200
    user = TenantProfile.objects.get(user__telegram_id=5006)
    assert (
        len(user.username),
        len(user.first_name),
        len(user.last_name),
        len(user.language_code),
    ) == (64, 128, 128, 16)
    assert user.photo_url == photo[:512]


def test_initdata_cannot_make_a_user_staff(tenant, client_for):
    response = client_for(tenant, user_id=5004, is_staff=True).get(ME)
    assert response.status_code == 200
    assert TelegramUser.objects.get(telegram_id=5004).is_staff is False
    assert response.json()["capabilities"] == []


def test_scheme_is_case_insensitive(tenant):
    response = _get_me(tenant, "TMA " + init_data_for(tenant, user_id=5005))
    assert response.status_code == 200


# --- HMAC with the tenant's bot token --------------------------------------------------


def test_initdata_of_another_tenants_bot_is_refused(make_tenant, nothing_written):
    mine, other = make_tenant(), make_tenant()
    with nothing_written():
        response = _get_me(mine, "tma " + init_data_for(other, user_id=5010))
    _assert_refused(response, "bad_hash")


def test_real_telegram_initdata_authenticates_with_its_bot_token(make_tenant, settings):
    vector = next(v for v in load_vectors() if v["id"] == "tma-node-valid-2024-12-07")
    settings.INIT_DATA_MAX_AGE_SECONDS = 0  # the captured payload is from 2024
    tenant = make_tenant(bot_token=vector["bot_token"])

    response = _get_me(tenant, "tma " + vector["init_data"])

    assert response.status_code == 200, response.content
    user = TelegramUser.objects.get(telegram_id=279058397)
    assert (user.username, user.last_name, user.is_premium) == ("vdkfrost", "Kibenko", True)
    assert user.first_name == "Vladislav + - ? /"  # JSON's "\\/" is "/"


def test_a_bot_that_is_deactivated_no_longer_authenticates(tenant, nothing_written):
    header = "tma " + init_data_for(tenant, user_id=5011)
    Bot.objects.filter(tenant=tenant).update(is_active=False)
    tenant_bots_forget(tenant_id=tenant.pk)
    with nothing_written():
        response = _get_me(tenant, header)
    _assert_refused(response, "no_bot")


# --- Ed25519: a bot known only by its id -----------------------------------------------


def test_ed25519_signed_initdata_authenticates_a_tokenless_bot(tokenless_tenant, telegram_key):
    tenant = tokenless_tenant(bot_id=8100000001)
    raw = sign_ed25519(
        _fields({"id": 5020, "first_name": "Dan", "username": "dan"}),
        bot_id=8100000001,
        private_key=telegram_key,
    )

    response = _get_me(tenant, "tma " + raw)

    assert response.status_code == 200, response.content
    assert TelegramUser.objects.get(telegram_id=5020).username == "dan"


@pytest.mark.parametrize("case", ["other_bot", "other_key", "hmac_only", "tampered"])
def test_ed25519_refusals(tokenless_tenant, telegram_key, nothing_written, case):
    tenant = tokenless_tenant(bot_id=8100000002)
    fields = _fields({"id": 5021, "first_name": "Fay"})
    if case == "other_bot":
        raw, code = (
            sign_ed25519(fields, bot_id=8100000003, private_key=telegram_key),
            "bad_signature",
        )
    elif case == "other_key":
        raw, code = (
            sign_ed25519(fields, bot_id=8100000002, private_key=Ed25519PrivateKey.generate()),
            "bad_signature",
        )
    elif case == "hmac_only":
        raw, code = (
            sign_hmac(fields, "8100000002:AAHsomeguessedtokenthatisnotstoredx"),
            "missing_signature",
        )
    else:
        signed = sign_ed25519(fields, bot_id=8100000002, private_key=telegram_key)
        raw, code = signed.replace("query_id=AAE-suite", "query_id=AAE-suitf"), "bad_signature"
    with nothing_written():
        response = _get_me(tenant, "tma " + raw)
    _assert_refused(response, code)


PRODUCTION_VECTORS = [
    v
    for v in load_vectors()
    if v["kind"] == "ed25519"
    and v.get("public_key") == "production"
    and v["clock"] is not None
    and v["clock"].get("expires_in_s") == 0
]


@pytest.mark.parametrize("vector", PRODUCTION_VECTORS, ids=[v["id"] for v in PRODUCTION_VECTORS])
def test_real_production_signatures_through_the_api(tokenless_tenant, settings, vector):
    """With the shipped production key (nothing patched), Telegram's real third-party
    signatures authenticate for their bot and nothing else does."""
    assert settings.TELEGRAM_ENVIRONMENT == "production"
    settings.INIT_DATA_MAX_AGE_SECONDS = 0  # captured payloads are old
    tenant = tokenless_tenant(bot_id=vector["bot_id"])
    response = _get_me(tenant, "tma " + vector["init_data"])
    if vector["expected"] == "valid":
        assert response.status_code == 200, response.content
    else:
        _assert_refused(response, vector["reason"])


def test_tenant_with_a_token_bot_and_a_tokenless_bot_accepts_both(tenant, telegram_key, client_for):
    Bot.objects.create(tenant=tenant, telegram_id=8100000004, token_encrypted="")
    tenant_bots_forget(tenant_id=tenant.pk)
    # Signed by Telegram for the tokenless bot, without any hash.
    raw = sign_ed25519(
        _fields({"id": 5022, "first_name": "Gus"}), bot_id=8100000004, private_key=telegram_key
    )
    assert "hash=" not in raw
    assert _get_me(tenant, "tma " + raw).status_code == 200
    assert client_for(tenant, user_id=5023).get(ME).status_code == 200
    forged = sign_hmac(_fields({"id": 5024, "first_name": "Hal"}), bot_token_for(999))
    _assert_refused(_get_me(tenant, "tma " + forged), "bad_hash")


# --- public domain: the platform bot ---------------------------------------------------


def test_public_domain_uses_the_platform_bot(db, settings, nothing_written):
    token = "7999999999:AAHplatformbottokenforthesuite123456"
    raw = sign_hmac(_fields({"id": 5030, "first_name": "Ida"}), token)
    client = APIClient()
    with nothing_written():
        _assert_refused(
            client.get(ME, HTTP_HOST="testserver", HTTP_AUTHORIZATION="tma " + raw), "no_bot"
        )
    settings.PLATFORM_BOT_TOKEN = token
    response = client.get(ME, HTTP_HOST="testserver", HTTP_AUTHORIZATION="tma " + raw)
    assert response.status_code == 200, response.content
    assert response.json()["capabilities"] == []


# --- freshness -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "code"),
    [
        (-24 * 3600 + 60, None),
        (-24 * 3600 - 60, "expired"),
        (30, None),
        (120, "invalid_auth_date"),
    ],
)
def test_auth_date_freshness_with_the_default_settings(tenant, nothing_written, offset, code):
    header = "tma " + init_data_for(tenant, user_id=5040, auth_date=int(time.time()) + offset)
    if code is None:
        assert _get_me(tenant, header).status_code == 200
        return
    with nothing_written():
        response = _get_me(tenant, header)
    _assert_refused(response, code)


def test_max_age_follows_the_setting(tenant, settings):
    header = "tma " + init_data_for(tenant, user_id=5041, auth_date=int(time.time()) - 7200)
    assert _get_me(tenant, header).status_code == 200
    settings.INIT_DATA_MAX_AGE_SECONDS = 3600
    _assert_refused(_get_me(tenant, header), "expired")


# --- malformed input: 401, {"detail", "code"}, nothing written -------------------------


def _signed(tenant, fields: dict[str, str]) -> str:
    return "tma " + sign_hmac(fields, tenant_bot_token(tenant))


def _without(raw: str, key: str) -> str:
    return "&".join(p for p in raw.split("&") if not p.startswith(key + "="))


MALFORMED = {
    "missing_hash": lambda t: (_without(_signed(t, _fields()), "hash"), "missing_hash"),
    "empty_hash": lambda t: (_without(_signed(t, _fields()), "hash") + "&hash=", "missing_hash"),
    "bad_hash": lambda t: (
        _without(_signed(t, _fields()), "hash") + "&hash=" + "0" * 64,
        "bad_hash",
    ),
    "non_ascii_hash": lambda t: (
        _without(_signed(t, _fields()), "hash") + "&hash=%C3%A9",
        "bad_hash",
    ),
    "bad_percent_escape": lambda t: (_signed(t, _fields()) + "&x=%ZZ", "bad_encoding"),
    "truncated_escape": lambda t: (_signed(t, _fields()) + "&x=%4", "bad_encoding"),
    "not_utf8": lambda t: (_signed(t, _fields()) + "&x=%FF%FE", "bad_encoding"),
    "duplicate_key": lambda t: (_signed(t, _fields()) + "&query_id=AAE-suite", "duplicate_key"),
    "duplicate_hash": lambda t: (_signed(t, _fields()) + "&hash=" + "0" * 64, "duplicate_key"),
    "missing_auth_date": lambda t: (
        _signed(t, {k: v for k, v in _fields().items() if k != "auth_date"}),
        "missing_auth_date",
    ),
    "auth_date_not_a_number": lambda t: (
        _signed(t, {**_fields(), "auth_date": "1e9"}),
        "invalid_auth_date",
    ),
    "negative_auth_date": lambda t: (
        _signed(t, {**_fields(), "auth_date": "-5"}),
        "invalid_auth_date",
    ),
    "auth_date_superscript": lambda t: (
        _signed(t, {**_fields(), "auth_date": "\u00b2"}),
        "invalid_auth_date",
    ),
    "auth_date_arabic_digits": lambda t: (
        _signed(t, {**_fields(), "auth_date": "\u0661\u0667\u0660" * 3}),
        "invalid_auth_date",
    ),
    "auth_date_huge": lambda t: (
        _signed(t, {**_fields(), "auth_date": "9" * 5000}),
        "invalid_auth_date",
    ),
    "missing_user": lambda t: (
        _signed(t, {k: v for k, v in _fields().items() if k != "user"}),
        "missing_user",
    ),
    "user_not_json": lambda t: (_signed(t, {**_fields(), "user": "{id: 5}"}), "bad_user"),
    "user_not_object": lambda t: (_signed(t, {**_fields(), "user": "[5050]"}), "bad_user"),
    "user_id_missing": lambda t: (_signed(t, _fields({"first_name": "X"})), "bad_user"),
    "user_id_string": lambda t: (_signed(t, _fields({"id": "5050"})), "bad_user"),
    "user_id_zero": lambda t: (_signed(t, _fields({"id": 0})), "bad_user"),
    "user_id_negative": lambda t: (_signed(t, _fields({"id": -5050})), "bad_user"),
    "user_id_float": lambda t: (_signed(t, _fields({"id": 5050.0})), "bad_user"),
    "user_id_bool": lambda t: (_signed(t, _fields({"id": True})), "bad_user"),
    "user_id_too_big": lambda t: (_signed(t, _fields({"id": 2**63})), "bad_user"),
    "user_name_not_string": lambda t: (
        _signed(t, _fields({"id": 5050, "username": 7})),
        "bad_user",
    ),
    "user_name_too_long": lambda t: (
        _signed(t, _fields({"id": 5050, "first_name": "n" * 129})),
        "bad_user",
    ),
    "user_language_too_long": lambda t: (
        _signed(t, _fields({"id": 5050, "language_code": "x" * 17})),
        "bad_user",
    ),
    "wrong_scheme": lambda t: ("Bearer " + _signed(t, _fields())[4:], "bad_scheme"),
    "basic_scheme": lambda t: ("Basic dXNlcjpwYXNz", "bad_scheme"),
    "scheme_only": lambda t: ("tma", "missing_init_data"),
    "scheme_and_spaces": lambda t: ("tma    ", "missing_init_data"),
    "oversized_header": lambda t: (_signed(t, _fields(pad="x" * 9000)), "header_too_large"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_initdata_is_refused_and_nothing_is_written(tenant, nothing_written, case):
    header, code = MALFORMED[case](tenant)
    with nothing_written():
        response = _get_me(tenant, header)
    _assert_refused(response, code)


def test_no_header_is_unauthenticated_and_writes_nothing(tenant, nothing_written):
    with nothing_written():
        response = _get_me(tenant, None)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert set(response.json()) == {"detail", "code"}


def test_header_size_limit_is_exact(tenant, settings, nothing_written):
    limit = settings.INIT_DATA_MAX_HEADER_BYTES

    def padded_to(size: int, user_id: int) -> str:
        user = {"id": user_id, "first_name": "Pad"}
        base = _signed(tenant, _fields(user, pad=""))
        header = _signed(tenant, _fields(user, pad="x" * (size - len(base))))
        assert len(header) == size
        return header

    assert _get_me(tenant, padded_to(limit, 5051)).status_code == 200
    with nothing_written():
        response = _get_me(tenant, padded_to(limit + 1, 5052))
    _assert_refused(response, "header_too_large")


def test_telegrams_signature_is_checked_once_per_init_data_and_bot(telegram_key, monkeypatch):
    checked: list[int] = []
    check = initdata.check_signature

    def counting(data, bot_id, public_key):
        checked.append(bot_id)
        check(data, bot_id, public_key)

    monkeypatch.setattr(initdata, "check_signature", counting)
    SIGNED_BY_TELEGRAM.clear()
    raw = sign_ed25519(
        _fields({"id": 42, "first_name": "A"}), bot_id=4201, private_key=telegram_key
    )
    data = initdata.parse(raw)

    assert [signed_by_telegram(raw, data, 4201) for _ in range(2)] == [True, True]
    # Signed for another bot: the refusal is remembered as well.
    assert [signed_by_telegram(raw, data, 4202) for _ in range(2)] == [False, False]
    assert checked == [4201, 4202]
    assert SIGNED_BY_TELEGRAM.maxsize == initdata.VERIFIED_MAX
    assert caches()["accounts.signed_by_telegram"] is SIGNED_BY_TELEGRAM
