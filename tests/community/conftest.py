"""Fixtures for the community app: the loopback Telegram, a community whose bot it knows,
and Telegram groups with admins."""

from __future__ import annotations

import itertools

import pytest

from sandbox.telegram_loopback import TelegramLoopback
from tests.conftest import tenant_bot_token

_chat_ids = itertools.count(1)
_user_ids = itertools.count(1)


@pytest.fixture(scope="session")
def telegram_server():
    server = TelegramLoopback()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def telegram(telegram_server, settings):
    """The loopback Telegram, empty, and the platform pointed at it."""
    telegram_server.reset()
    settings.TELEGRAM_API_BASE = telegram_server.base_url
    return telegram_server


@pytest.fixture
def community(make_tenant, telegram):
    """A tenant whose bot exists on the loopback Telegram."""

    def make(**kwargs):
        tenant = make_tenant(**kwargs)
        telegram.add_bot(tenant_bot_token(tenant), username=f"{tenant.slug.replace('-', '_')}_bot")
        return tenant

    return make


def bot_id_of(tenant) -> int:
    return int(tenant_bot_token(tenant).split(":", 1)[0])


@pytest.fixture
def tg_user(telegram):
    """``tg_user(name)``: a Telegram user known to the loopback; returns its User object."""

    def make(name: str = "user", user_id: int | None = None) -> dict:
        user_id = user_id or 5_000_000 + next(_user_ids)
        return telegram.add_user(user_id, name.title(), username=name)

    return make


@pytest.fixture
def group_chat(telegram):
    """``group_chat(tenant, creator=..., admins=[...], members=[...])``: a supergroup on the
    loopback with the tenant's bot in it (an administrator); returns its chat id."""

    def make(
        tenant,
        *,
        creator: dict,
        admins=(),
        members=(),
        bot_in_chat: bool = True,
        title: str | None = None,
    ) -> int:
        chat_id = -1_009_000_000_000 - next(_chat_ids)
        entries = [telegram.owner(creator), *(telegram.administrator(a) for a in admins)]
        if bot_in_chat:
            bot_user = telegram.bot_user(tenant_bot_token(tenant))
            entries.append(telegram.administrator(bot_user))
        telegram.add_chat(
            chat_id,
            title=title or f"Group {chat_id}",
            admins=entries,
            members=[telegram.member(m) for m in members],
        )
        return chat_id

    return make


# The sandbox Telegram scene of the welcome check, moderation and leaderboard tests.
from tests.community.moderation_support import make_scene, sandbox, scene, tg  # noqa: E402, F401
