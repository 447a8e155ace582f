"""Fixtures for the community app: the sandbox Telegram (``tg``, from moderation_support),
a community whose bot it knows, and Telegram groups with admins."""

from __future__ import annotations

import itertools

import pytest

from tests.community import moderation_support
from tests.conftest import tenant_bot_token

# The sandbox Telegram (``sandbox`` for the session, ``tg`` emptied per test) and the scene
# of the welcome check, moderation and leaderboard tests.
sandbox = moderation_support.sandbox
tg = moderation_support.tg
make_scene = moderation_support.make_scene
scene = moderation_support.scene

_chat_ids = itertools.count(1)
_user_ids = itertools.count(1)


@pytest.fixture
def community(make_tenant, tg):
    """A tenant whose bot exists on the sandbox Telegram."""

    def make(**kwargs):
        tenant = make_tenant(**kwargs)
        tg.add_bot(tenant_bot_token(tenant), username=f"{tenant.slug.replace('-', '_')}_bot")
        return tenant

    return make


def bot_id_of(tenant) -> int:
    return int(tenant_bot_token(tenant).split(":", 1)[0])


@pytest.fixture
def tg_user(tg):
    """``tg_user(name)``: a Telegram user known to the sandbox; returns its User object."""

    def make(name: str = "user", user_id: int | None = None) -> dict:
        user_id = user_id or 5_000_000 + next(_user_ids)
        return tg.add_user(user_id, name.title(), username=name)

    return make


@pytest.fixture
def group_chat(tg):
    """``group_chat(tenant, creator=..., admins=[...], members=[...])``: a supergroup on the
    sandbox with the tenant's bot in it (an administrator); returns its chat id."""

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
        tg.add_group(chat_id, title=title or f"Group {chat_id}")
        tg.set_member(chat_id, creator["id"], "creator")
        for admin in admins:
            tg.set_member(chat_id, admin["id"], "administrator")
        if bot_in_chat:
            tg.set_member(chat_id, bot_id_of(tenant), "administrator")
        for member in members:
            tg.set_member(chat_id, member["id"], "member")
        return chat_id

    return make
