"""Whose word changes a user's profile: the platform bot's and Telegram's Ed25519 signature
change the global profile; a tenant's own bot only what that tenant shows (its owner holds
the token and can sign initData for any user id)."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl

import pytest
from rest_framework.test import APIClient

from accounts.initdata import sign_hmac
from accounts.models import TelegramUser, TenantProfile
from accounts.services import membership_set_role, user_authenticate
from history.models import Entry
from tests.accounts.helpers import sign_ed25519
from tests.helpers import init_data_for, tenant_bot_token

ME = "/api/v1/me"
ADMINS = "/api/v1/admins"
PLATFORM_TOKEN = "7999999996:AAHplatformbottokenforprofiles00001"
ALICE, A_OWNER, B_OWNER = 9101, 9102, 9103
ALICE_PROFILE = {
    "username": "alice",
    "first_name": "Alice",
    "last_name": "Liddell",
    "photo_url": "https://t.me/i/userpic/alice.jpg",
}
FORGED = {
    "username": "alice_scam",
    "first_name": "Send",
    "last_name": "me your seed phrase",
    "photo_url": "https://evil.example/alice.jpg",
}


def _fields(user: dict[str, Any]) -> dict[str, str]:
    return {
        "auth_date": str(int(time.time())),
        "query_id": "AAE-profiles",
        "user": json.dumps(user, separators=(",", ":")),
    }


def _me(host: str, raw: str) -> Any:
    response = APIClient().get(ME, HTTP_HOST=host, HTTP_AUTHORIZATION="tma " + raw)
    assert response.status_code == 200, response.content
    return response.json()


def _host(tenant) -> str:
    return tenant.domains.first().domain


def _names(source: Any, keys=tuple(ALICE_PROFILE)) -> dict[str, str]:
    if isinstance(source, dict):
        return {key: source[key] for key in keys}
    return {key: getattr(source, key) for key in keys}


def _admin_names(tenant, owner_id: int, telegram_id: int) -> dict[str, str]:
    """The names the tenant's admin list shows (it has no photo)."""
    keys = ("username", "first_name", "last_name")
    return _names(_admin_row(tenant, owner_id, telegram_id), keys)


def _without_photo(profile: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in profile.items() if k != "photo_url"}


def _platform_signed(user: dict[str, Any]) -> str:
    return sign_hmac(_fields(user), PLATFORM_TOKEN)


@pytest.fixture
def alice(db, settings):
    """Alice, known through the platform bot (her global profile is hers)."""
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    _me("testserver", _platform_signed({"id": ALICE, **ALICE_PROFILE, "language_code": "en"}))
    return TelegramUser.objects.get(telegram_id=ALICE)


def _admin_row(tenant, owner_id: int, telegram_id: int) -> dict[str, Any]:
    raw = init_data_for(tenant, user_id=owner_id, username=f"owner{owner_id}")
    response = APIClient().get(ADMINS, HTTP_HOST=_host(tenant), HTTP_AUTHORIZATION="tma " + raw)
    assert response.status_code == 200, response.content
    return next(row for row in response.json()["results"] if row["telegram_id"] == telegram_id)


def test_a_brand_owner_signing_for_alice_changes_only_what_the_brand_shows(
    alice, make_tenant, user_with_role
):
    a, b = make_tenant(), make_tenant()
    for tenant, owner in ((a, A_OWNER), (b, B_OWNER)):
        user_with_role(tenant, "owner", user_id=owner)
        membership_set_role(tenant=tenant, user=alice, role="admin")

    # B's owner holds B's token: initData "from Alice" with names of their choosing.
    forged = sign_hmac(_fields({"id": ALICE, **FORGED}), tenant_bot_token(b))
    assert _names(_me(_host(b), forged)) == FORGED

    alice.refresh_from_db()
    assert _names(alice) == ALICE_PROFILE
    assert _admin_names(a, A_OWNER, ALICE) == _without_photo(ALICE_PROFILE)
    genuine = init_data_for(a, user_id=ALICE, **ALICE_PROFILE)
    assert _names(_me(_host(a), genuine)) == ALICE_PROFILE
    # B shows what its own bot said, to B only.
    assert _admin_names(b, B_OWNER, ALICE) == _without_photo(FORGED)
    assert TenantProfile.objects.filter(user=alice).count() == 1


def test_tenant_signed_data_for_a_new_id_registers_no_global_profile(tenant):
    _me(_host(tenant), init_data_for(tenant, user_id=9110, username="ghost", last_name="X"))
    user = TelegramUser.objects.get(telegram_id=9110)
    assert (user.username, user.first_name, user.last_name, user.photo_url) == ("", "", "", "")


def test_platform_signed_data_updates_the_global_profile(alice, make_tenant, user_with_role):
    tenant = make_tenant()
    user_with_role(tenant, "owner", user_id=A_OWNER)
    membership_set_role(tenant=tenant, user=alice, role="admin")
    renamed = {**ALICE_PROFILE, "username": "alice_new", "last_name": "Hargreaves"}

    _me("testserver", _platform_signed({"id": ALICE, **renamed}))

    alice.refresh_from_db()
    assert _names(alice) == renamed
    assert _admin_names(tenant, A_OWNER, ALICE) == _without_photo(renamed)


def _signed_by_telegram_and_bot(tenant, user: dict[str, Any], key) -> str:
    """initData as Telegram issues it today: Ed25519 ``signature`` and the bot's ``hash``."""
    token = tenant_bot_token(tenant)
    fields = _fields(user)
    signed = dict(parse_qsl(sign_ed25519(fields, bot_id=int(token.split(":")[0]), private_key=key)))
    return sign_hmac(signed, token)


def test_telegram_signed_data_updates_the_global_profile(
    alice, tokenless_tenant, telegram_key, make_tenant
):
    """Telegram's Ed25519 signature: for a bot known only by its id, and next to the HMAC
    of a tenant whose token the platform holds. A forged signature stays tenant-local."""
    tokenless, brand = tokenless_tenant(bot_id=8200000001), make_tenant()
    renamed = {**ALICE_PROFILE, "first_name": "Alicia"}
    raw = sign_ed25519(
        _fields({"id": ALICE, **renamed}), bot_id=8200000001, private_key=telegram_key
    )
    _me(_host(tokenless), raw)
    alice.refresh_from_db()
    assert _names(alice) == renamed

    again = {**ALICE_PROFILE, "first_name": "Ali"}
    _me(_host(brand), _signed_by_telegram_and_bot(brand, {"id": ALICE, **again}, telegram_key))
    alice.refresh_from_db()
    assert _names(alice) == again

    bogus = {**_fields({"id": ALICE, **FORGED}), "signature": "A" * 86}
    assert _names(_me(_host(brand), sign_hmac(bogus, tenant_bot_token(brand)))) == FORGED
    alice.refresh_from_db()
    assert _names(alice) == again


def test_genuine_data_in_a_tenant_replaces_its_own_copy(alice, tenant, telegram_key):
    forged = sign_hmac(_fields({"id": ALICE, **FORGED}), tenant_bot_token(tenant))
    assert _names(_me(_host(tenant), forged)) == FORGED
    assert TenantProfile.objects.filter(tenant=tenant, user=alice).exists()

    genuine = {**ALICE_PROFILE, "first_name": "Al"}
    shown = _me(
        _host(tenant), _signed_by_telegram_and_bot(tenant, {"id": ALICE, **genuine}, telegram_key)
    )

    assert _names(shown) == genuine
    assert not TenantProfile.objects.filter(tenant=tenant, user=alice).exists()
    alice.refresh_from_db()
    assert _names(alice) == genuine


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://t.me/i/userpic/320/alice.jpg", True),
        ("HTTPS://t.me/i/userpic/alice.jpg", True),
        ("http://t.me/i/userpic/alice.jpg", False),
        ("javascript:alert(document.cookie)", False),
        ("data:image/svg+xml,<svg onload=alert(1)>", False),
        ("//evil.example/a.jpg", False),
        ("https:///no-host", False),
        ("https://[::1", False),
    ],
)
def test_photo_urls_other_than_https_are_dropped(db, settings, tenant, url, kept):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    user = {"id": 9120, "first_name": "Pic", "photo_url": url}
    expected = url if kept else ""
    assert _me("testserver", _platform_signed(user))["photo_url"] == expected
    assert TelegramUser.objects.get(telegram_id=9120).photo_url == expected
    local = {**user, "id": 9121}
    shown = _me(_host(tenant), sign_hmac(_fields(local), tenant_bot_token(tenant)))
    assert shown["photo_url"] == expected


def test_unvouched_data_without_a_tenant_changes_no_profile(alice):
    user = user_authenticate(profile={"id": ALICE, **FORGED}, tenant=None, trusted=False)
    assert user.pk == alice.pk
    alice.refresh_from_db()
    assert _names(alice) == ALICE_PROFILE
    assert not TenantProfile.objects.exists()


def test_first_sight_registers_the_user_once_with_an_audit_entry_vouched_or_not(db):
    """Vouched for, the user is registered with their profile; not vouched for, with an
    empty one. Either way once, with one ``user.registered`` entry."""
    genuine, forged = {"id": 9130, **ALICE_PROFILE}, {"id": 9131, **FORGED}
    for _ in range(2):
        vouched = user_authenticate(profile=genuine, tenant=None, trusted=True)
        unvouched = user_authenticate(profile=forged, tenant=None, trusted=False)
    assert _names(vouched) == ALICE_PROFILE
    assert _names(unvouched) == dict.fromkeys(ALICE_PROFILE, "")
    assert TelegramUser.objects.filter(telegram_id__in=[9130, 9131]).count() == 2
    registered = Entry.objects.filter(action="user.registered")
    assert sorted(registered.values_list("target_id", "actor_type", "actor_id")) == [
        ("9130", "user", "9130"),
        ("9131", "user", "9131"),
    ]
