"""Fixtures for identity and access tests: empty caches for each test, tenants whose bot
has no token, and a check that a refused request wrote nothing (Telegram's Ed25519 key of
the suite's own, ``telegram_key``, is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from accounts.models import Membership, TelegramUser
from history.models import Entry
from tenancy.models import Bot
from tenancy.selectors import tenant_bots_forget


@pytest.fixture(autouse=True)
def _fresh_caches(fresh_caches) -> None:
    """Every identity test starts and ends with empty caches (tests/conftest.py)."""


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
