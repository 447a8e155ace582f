"""Fixtures for the welcome check, moderation and leaderboard tests: the sandbox Telegram,
a community whose bot administers a bound supergroup there, and a python-telegram-bot
Application with the community handlers that processes the updates the sandbox queues.

``async_to_sync`` drives the Application, so the handlers' ``sync_to_async`` service
calls run back on the test's thread, inside its database transaction.

Test modules import the fixtures they use from here (``from ... import sandbox, ...``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import tenant_context
from telegram import Update
from telegram.ext import Application
from telegram.request import HTTPXRequest

from botruntime.context import tenants_forget
from community.botapi import ssl_context
from community.group_config import group_config_forget
from community.models import Group
from community.rules import FLOOD
from community.services import group_bind_on_bot_added
from community.telegram import handlers
from sandbox.telegram import Limits, SandboxTelegram
from tests.botruntime.support import flush_all_strictly
from tests.conftest import tenant_bot_token

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def sandbox():
    tg = SandboxTelegram(limits=Limits.off())
    tg.start()
    yield tg
    tg.stop()


@pytest.fixture
def tg(sandbox, settings):
    """The sandbox, empty, the platform pointed at it, and no cached group state."""
    sandbox.reset()
    settings.TELEGRAM_API_BASE = sandbox.base_url
    group_config_forget()
    tenants_forget()
    FLOOD.clear()
    yield sandbox
    group_config_forget()
    tenants_forget()
    FLOOD.clear()


@dataclass
class Scene:
    """A community, its bot, a bound supergroup (the bot an administrator in it) with its
    creator, and helpers to act in it."""

    tg: SandboxTelegram
    tenant: Any
    token: str
    bot_id: int
    chat_id: int
    owner: dict
    application: Application = field(repr=False)

    def user(self, name: str, *, join: bool = False, member: bool = True) -> dict:
        """A person; ``member`` puts them in the group silently (an old member),
        ``join`` makes them join (updates the bot must process)."""
        user = self.tg.add_user(6_000_000 + next(_ids), name.title(), username=name)
        if join:
            self.process(*self.tg.join(self.chat_id, user["id"], self.bot_id))
        elif member:
            self.tg.set_member(self.chat_id, user["id"], "member")
        return user

    def process(self, *updates: dict, flush: bool = True) -> None:
        """The bot handles ``updates``; then (``flush``) the runtime's write-behind
        buffers are applied, as the runtime does every BOT_WRITE_BEHIND_S seconds."""
        updates = tuple(u for u in updates if u)

        async def run() -> None:
            async with self.application:
                for payload in updates:
                    await self.application.process_update(
                        Update.de_json(payload, self.application.bot)
                    )

        async_to_sync(run)()
        if flush:
            flush_all_strictly()

    def say(self, user: dict, text: str, **extra: Any) -> dict:
        """``user`` writes in the group; the bot processes it. Returns the Update."""
        update = self.tg.send_message(self.bot_id, self.chat_id, user["id"], text, **extra)
        self.process(update)
        return update

    def live(self, message_id: int) -> bool:
        """Is the group's message still there (not deleted)?"""
        return any(m["message_id"] == message_id for m in self.tg.chat_messages(self.chat_id))

    def member(self, user: dict) -> dict:
        return self.tg.member(self.chat_id, user["id"])

    def bot_messages(self) -> list[dict]:
        return self.tg.sent(self.bot_id, self.chat_id)

    def group(self) -> Group:
        with tenant_context(self.tenant):
            return Group.objects.get(chat_id=self.chat_id)

    def update_group(self, **fields: Any) -> None:
        with tenant_context(self.tenant):
            group = Group.objects.get(chat_id=self.chat_id)
            for key, value in fields.items():
                setattr(group, key, value)
            group.save()


@pytest.fixture
def make_scene(make_tenant, tg):
    def make(*, bot_rights: dict | None = None, title: str = "Fans") -> Scene:
        owner = tg.add_user(6_000_000 + next(_ids), "Olga", username="olga")
        # Olga owns the community: she may bind a group by adding its bot.
        tenant = make_tenant(owner_telegram_id=owner["id"])
        token = tenant_bot_token(tenant)
        bot = tg.add_bot(token, username=f"{tenant.slug.replace('-', '_')}_bot")
        chat_id = -1_002_000_000_000 - next(_ids)
        tg.add_group(chat_id, title=title)
        tg.set_member(chat_id, owner["id"], "creator")
        rights = (
            {"can_restrict_members": True, "can_delete_messages": True}
            if bot_rights is None
            else bot_rights
        )
        tg.set_member(chat_id, bot["id"], "administrator", **rights)
        group_bind_on_bot_added(
            tenant=tenant,
            bot_id=bot["id"],
            chat_id=chat_id,
            title=title,
            added_by_telegram_id=owner["id"],
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
