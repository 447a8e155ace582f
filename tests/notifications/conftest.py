"""Fixtures for the notifications tests: a community with a bot, bound groups, and users
the community's bot can reach."""

from __future__ import annotations

import itertools

import pytest

from accounts.services import user_touch
from notifications.services import recipient_register
from tenancy.models import Bot
from tenancy.services import chat_bind
from tests.conftest import tenant_bot_token

_chat_ids = itertools.count(1)
_user_ids = itertools.count(1)


def bot_id_of(tenant) -> int:
    return int(tenant_bot_token(tenant).split(":", 1)[0])


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
def sandbox():
    """``sandbox(limits)``: a started sandbox Telegram (stopped after the test)."""
    from sandbox.telegram import Limits, SandboxTelegram

    started = []

    def make(limits=None):
        tg = SandboxTelegram(limits=limits or Limits.off())
        tg.start()
        started.append(tg)
        return tg

    yield make
    for tg in started:
        tg.stop()


@pytest.fixture
def faulty_proxy():
    """``faulty_proxy(upstream, mode=..., failures=...)``: see sandbox_kit.FaultyProxy."""
    from tests.notifications.sandbox_kit import FaultyProxy

    started = []

    def make(upstream: str, **kwargs):
        proxy = FaultyProxy(upstream, **kwargs)
        proxy.start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        proxy.stop()
