"""Fixtures for the community app, on the sandbox Telegram (``tg``, tests/sandbox_fixtures.py):
a community whose bot it knows, Telegram groups with admins, and the scene of the welcome
check, moderation and leaderboard tests (``make_scene``, ``scene``: helpers.Scene)."""

from __future__ import annotations

import itertools

import pytest
from telegram.ext import Application
from telegram.request import HTTPXRequest

from botruntime.outgoing import ssl_context
from community.telegram import handlers
from tests.community.helpers import Scene, scene_id
from tests.helpers import bot_id_of, group_on_sandbox, on_sandbox, tenant_bot_token

_chat_ids = itertools.count(1)
_user_ids = itertools.count(1)


@pytest.fixture
def community(make_tenant, tg):
    """A tenant whose bot exists on the sandbox Telegram."""

    def make(**kwargs):
        tenant = make_tenant(**kwargs)
        on_sandbox(tg, tenant)
        return tenant

    return make


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


@pytest.fixture
def make_scene(make_tenant, tg):
    def make(*, bot_rights: dict | None = None, title: str = "Fans") -> Scene:
        owner = tg.add_user(6_000_000 + scene_id(), "Olga", username="olga")
        # Olga owns the community: she may bind a group by adding its bot.
        tenant = make_tenant(owner_telegram_id=owner["id"])
        token = tenant_bot_token(tenant)
        chat_id = -1_002_000_000_000 - scene_id()
        rights = (
            {"can_restrict_members": True, "can_delete_messages": True}
            if bot_rights is None
            else bot_rights
        )
        bot = group_on_sandbox(
            tg, tenant, owner=owner, chat_id=chat_id, title=title, bot_rights=rights
        )
        application = (
            Application.builder()
            .token(token)
            .base_url(f"{tg.base_url}/bot")
            .base_file_url(f"{tg.base_url}/file/bot")
            # One shared SSL context: building one per client costs ~100 ms per update.
            .request(HTTPXRequest(httpx_kwargs={"verify": ssl_context()}))
            .get_updates_request(HTTPXRequest(httpx_kwargs={"verify": ssl_context()}))
            .updater(None)
            .build()
        )
        for handler in handlers():
            application.add_handler(handler)
        return Scene(
            tg=tg,
            tenant=tenant,
            token=token,
            bot_id=bot["id"],
            chat_id=chat_id,
            owner=owner,
            application=application,
        )

    return make


@pytest.fixture
def scene(make_scene) -> Scene:
    return make_scene()
