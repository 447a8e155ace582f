"""The community handlers end to end: a python-telegram-bot Application pointed at the
loopback Telegram processes real-shaped updates; the test checks the binding and what the
bot said.

``async_to_sync`` drives the Application so that the handlers' ``sync_to_async`` service
calls run back on this thread, inside the test's database transaction."""

from __future__ import annotations

import itertools
import time

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import tenant_context
from telegram import Update
from telegram.ext import Application

from accounts.selectors import user_get, user_role
from community.models import Group, LinkCode
from community.services import group_link_code_create
from community.telegram import handlers
from history.models import Entry
from tenancy.models import ChatBinding
from tests.community.conftest import bot_id_of
from tests.conftest import tenant_bot_token

_update_ids = itertools.count(1)


def _process(telegram, tenant, *payloads: dict) -> None:
    application = (
        Application.builder()
        .token(tenant_bot_token(tenant))
        .base_url(f"{telegram.base_url}/bot")
        .updater(None)
        .build()
    )
    for handler in handlers():
        application.add_handler(handler)

    async def run() -> None:
        async with application:
            for payload in payloads:
                await application.process_update(Update.de_json(payload, application.bot))

    async_to_sync(run)()


def _chat(chat_id: int) -> dict:
    return {"id": chat_id, "type": "supergroup", "title": "Fans"}


def _user(user: dict) -> dict:
    return {k: v for k, v in user.items() if k in ("id", "is_bot", "first_name", "username")}


def _command(chat: dict, sender: dict, text: str, *, message_id: int = 50) -> dict:
    command = text.split()[0]
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": chat,
            "from": _user(sender),
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


def _my_chat_member(chat_id: int, by: dict, old: dict, new: dict) -> dict:
    """The bot's status in the chat changed from ``old`` to ``new`` (ChatMember objects)."""
    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": _chat(chat_id),
            "from": _user(by),
            "date": int(time.time()),
            "old_chat_member": old,
            "new_chat_member": new,
        },
    }


@pytest.fixture
def scene(community, tg_user, group_chat, user_with_role, telegram):
    """A community with an owner and a code, a group created by ``admin`` with the bot."""
    tenant = community()
    owner, admin = tg_user("owner"), tg_user("groupadmin")
    owner_user = user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
    chat_id = group_chat(tenant, creator=admin)
    link = group_link_code_create(tenant=tenant, created_by=owner_user)
    bot_user = telegram.bot_user(tenant_bot_token(tenant))
    return tenant, chat_id, link, owner, admin, bot_user


def test_bind_command_binds_the_group_and_replies(scene, telegram):
    tenant, chat_id, link, _, admin, bot_user = scene

    _process(
        telegram,
        tenant,
        _command(_chat(chat_id), admin, f"/bind@{bot_user['username']} {link.code}"),
    )

    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    with tenant_context(tenant):
        assert Group.objects.get(chat_id=chat_id).is_active
        assert LinkCode.objects.get(pk=link.pk).used_in_chat == chat_id
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"
    [reply] = telegram.messages_to(chat_id)
    assert reply.bot_id == bot_id_of(tenant)
    assert reply.text == f"This group is now connected to {tenant.name}. Admins synced: 1."
    # A direct reply to the admin's own message.
    assert reply.params["reply_parameters"]["message_id"] == 50
    entry = Entry.objects.get(tenant=tenant, action="group.bound")
    assert entry.actor_id == str(admin["id"]) and entry.data["via"] == "link_code"


def test_bind_command_from_a_non_admin_is_refused_with_the_reason(scene, telegram, tg_user):
    tenant, chat_id, link, _, _, _ = scene
    intruder = tg_user("intruder")

    _process(telegram, tenant, _command(_chat(chat_id), intruder, f"/bind {link.code}"))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    [reply] = telegram.messages_to(chat_id)
    assert reply.text == (
        "Could not connect this group: only an administrator of this group can bind it"
    )


def test_bind_command_without_code_or_in_private_explains_usage(scene, telegram):
    tenant, chat_id, link, _, admin, _ = scene
    telegram.add_chat(admin["id"], chat_type="private")
    private = {"id": admin["id"], "type": "private", "first_name": admin["first_name"]}

    _process(
        telegram,
        tenant,
        _command(_chat(chat_id), admin, "/bind"),
        _command(private, admin, f"/bind {link.code}"),
    )

    assert telegram.messages_to(chat_id)[0].text.startswith("Send /bind followed by the code")
    assert telegram.messages_to(admin["id"])[0].text.startswith("Send /bind followed")
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    with tenant_context(tenant):
        assert LinkCode.objects.get(pk=link.pk).used_at is None


def test_bot_added_then_removed_binds_then_unbinds(scene, telegram):
    tenant, chat_id, _, owner, admin, bot_user = scene
    telegram.set_member(chat_id, telegram.administrator(owner))

    left = {"status": "left", "user": bot_user}
    joined = telegram.member(bot_user)
    promoted = telegram.administrator(bot_user)
    kicked = {"status": "kicked", "user": bot_user, "until_date": 0}

    _process(telegram, tenant, _my_chat_member(chat_id, owner, left, joined))

    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    with tenant_context(tenant):
        group = Group.objects.get(chat_id=chat_id)
        assert group.is_active and group.admins.count() == 2
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"

    # Promoted to administrator: still a member, nothing changes.
    _process(telegram, tenant, _my_chat_member(chat_id, owner, joined, promoted))
    assert ChatBinding.objects.filter(chat_id=chat_id).exists()

    _process(telegram, tenant, _my_chat_member(chat_id, owner, promoted, kicked))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    with tenant_context(tenant):
        assert not Group.objects.get(chat_id=chat_id).is_active
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "member"
    assert telegram.messages_to(chat_id) == []  # membership changes are silent


def test_bot_added_by_a_stranger_binds_nothing(scene, telegram, tg_user):
    tenant, chat_id, _, _, _, bot_user = scene
    stranger = tg_user("stranger")

    _process(
        telegram,
        tenant,
        _my_chat_member(
            chat_id, stranger, {"status": "left", "user": bot_user}, telegram.member(bot_user)
        ),
    )

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
