"""Fixtures for the notifications tests: bound groups, users the community's bot can reach,
and a misbehaving proxy in front of the sandbox Telegram (``sandbox(limits)``, a server of
the test's own, comes from tests/sandbox_fixtures.py)."""

from __future__ import annotations

import itertools

import pytest

from accounts.services import user_touch
from notifications.services import recipient_register
from tenancy.models import Bot
from tenancy.services import chat_bind
from tests.helpers import bot_id_of

_chat_ids = itertools.count(1)
_user_ids = itertools.count(1)


@pytest.fixture
def group(db):
    """``group(tenant, title=...)``: a chat bound to the tenant (served by its bot)."""

    def make(tenant, *, title: str | None = None, chat_id: int | None = None) -> int:
        chat_id = chat_id or -1_007_000_000_000 - next(_chat_ids)
        bot = Bot.objects.filter(tenant=tenant).first()
        chat_bind(tenant=tenant, chat_id=chat_id, title=title or f"Group {chat_id}", bot=bot)
        return chat_id

    return make


@pytest.fixture
def person(db):
    """``person(tenant, name, groups=[...])``: a Telegram user registered as a recipient
    of the tenant (as if they had written to its bot); returns the TelegramUser."""

    def make(tenant=None, name: str = "user", *, user_id: int | None = None, groups=()):
        user_id = user_id or 6_000_000 + next(_user_ids)
        user = user_touch(profile={"id": user_id, "first_name": name.title(), "username": name})
        if tenant is not None:
            recipient_register(tenant=tenant, user=user, bot_id=bot_id_of(tenant))
            for chat_id in groups:
                recipient_register(tenant=tenant, user=user, group_chat_id=chat_id)
        return user

    return make


@pytest.fixture
def faulty_proxy():
    """``faulty_proxy(upstream, mode=..., failures=...)``: see helpers.FaultyProxy."""
    from tests.notifications.helpers import FaultyProxy

    started = []

    def make(upstream: str, **kwargs):
        proxy = FaultyProxy(upstream, **kwargs)
        proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
