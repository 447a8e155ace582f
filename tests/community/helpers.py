"""Helpers for the community tests: the Scene of the welcome check, moderation and
leaderboard tests (a community whose bot administers a bound supergroup on the sandbox
Telegram, and a python-telegram-bot Application with the community handlers that processes
the updates the sandbox queues); conftest.py's ``make_scene`` builds one. And
``process_updates``: a tenant's bot handles updates, without a scene; ``bind_by_adding``:
a group bound by adding the tenant's bot; ``chat_not_a_group``: a channel or a private
chat that the bot is in.

``async_to_sync`` drives the Application, so the handlers' ``sync_to_async`` service
calls run back on the test's thread, inside its database transaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from django_tenants.utils import tenant_context
from telegram.ext import Application

from community.models import Group
from community.services import group_bind_on_bot_added
from community.telegram import handlers
from sandbox.telegram import SandboxTelegram
from tests.botruntime.helpers import flush_all_strictly
from tests.helpers import application_process, bot_id_of, sandbox_application, tenant_bot_token

_ids = itertools.count(1)


def scene_id() -> int:
    """A number no other scene person or group of this run has."""
    return next(_ids)


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
        user = self.tg.add_user(6_000_000 + scene_id(), name.title(), username=name)
        if join:
            self.process(*self.tg.join(self.chat_id, user["id"], self.bot_id))
        elif member:
            self.tg.set_member(self.chat_id, user["id"], "member")
        return user

    def process(self, *updates: dict, flush: bool = True) -> None:
        """The bot handles ``updates``; then (``flush``) the runtime's write-behind
        buffers are applied, as the runtime does every BOT_WRITE_BEHIND_S seconds."""
        application_process(self.application, *(u for u in updates if u))
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


def process_updates(tg, tenant, *payloads: dict) -> None:
    """The tenant's bot, with the community handlers, processes ``payloads`` (updates the
    sandbox queued)."""
    application_process(sandbox_application(tg, tenant_bot_token(tenant), handlers()), *payloads)


def bind_by_adding(
    tenant, chat_id: int, added_by: dict, *, bot_id: int | None = None, title: str = "Fans"
):
    """``added_by`` adds the tenant's bot (or ``bot_id``) to the group: it is bound, or
    the refusal is raised."""
    return group_bind_on_bot_added(
        tenant=tenant,
        bot_id=bot_id or bot_id_of(tenant),
        chat_id=chat_id,
        title=title,
        added_by_telegram_id=added_by["id"],
    )


def chat_not_a_group(tg: SandboxTelegram, kind: str, owner: dict, bot_id: int) -> int:
    """A ``kind == "channel"`` that ``owner`` created, the bot an administrator in it, or
    else ``owner``'s private chat with the bot; returns its chat id."""
    if kind == "channel":
        chat_id = tg.add_group(title="News", type="channel")["id"]
        tg.set_member(chat_id, owner["id"], "creator")
        tg.set_member(chat_id, bot_id, "administrator")
        return chat_id
    tg.send_message(bot_id, owner["id"], owner["id"], "hi")  # opens the private chat
    return owner["id"]
