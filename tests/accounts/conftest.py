"""Fixtures for identity and access tests: a configurable Telegram Ed25519 key, tenants whose
bot has no token, and a check that a refused request wrote nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accounts import initdata
from accounts.models import Membership, TelegramUser
from history.models import Entry
from tenancy.middleware import host_cache_clear
from tenancy.models import Bot
from tenancy.selectors import tenant_bots_forget


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    """Host → tenant and tenant → bot tokens are cached per process; each test's tenants
    are rolled back, so start and end every test with empty caches."""
    host_cache_clear()
    tenant_bots_forget()
    yield
    host_cache_clear()
    tenant_bots_forget()


@pytest.fixture
def telegram_key(settings, monkeypatch) -> Ed25519PrivateKey:
    """A freshly generated key pair standing in for Telegram's: the public half is added to
    accounts.initdata.TELEGRAM_PUBLIC_KEYS under its own environment name and selected with
    settings.TELEGRAM_ENVIRONMENT (the production and test keys stay untouched)."""
    private = Ed25519PrivateKey.generate()
    public_hex = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    monkeypatch.setitem(initdata.TELEGRAM_PUBLIC_KEYS, "suite", public_hex)
    settings.TELEGRAM_ENVIRONMENT = "suite"
    return private


@pytest.fixture
def tokenless_tenant(make_tenant) -> Callable[..., object]:
    """A tenant whose bot is known only by its Telegram id (no token stored): initData can
    only be checked through Telegram's Ed25519 signature."""

    def make(bot_id: int, **kwargs):
        tenant = make_tenant(with_bot=False, **kwargs)
        Bot.objects.create(tenant=tenant, telegram_id=bot_id, token_encrypted="")
        tenant_bots_forget(tenant_id=tenant.pk)
        return tenant

    return make


def _write_counts() -> dict[str, int]:
    return {
        "users": TelegramUser.objects.count(),
        "memberships": Membership.objects.count(),
        "history": Entry.objects.count(),
    }


@pytest.fixture
def nothing_written() -> Callable[[], object]:
    """``with nothing_written(): ...`` fails if the block added users, roles or history."""

    @contextmanager
    def check() -> Iterator[None]:
        before = _write_counts()
        yield
        assert _write_counts() == before

    return check
