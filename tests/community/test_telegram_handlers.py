"""The community handlers end to end: people act on the sandbox Telegram, which queues the
updates Telegram would send; a python-telegram-bot Application pointed at the sandbox
processes them; the test checks the binding and what the bot said.

``async_to_sync`` drives the Application so that the handlers' ``sync_to_async`` service
calls run back on this thread, inside the test's database transaction."""

from __future__ import annotations

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


def _process(tg, tenant, *payloads: dict) -> None:
    application = (
        Application.builder()
        .token(tenant_bot_token(tenant))
        .base_url(f"{tg.base_url}/bot")
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


@pytest.fixture
def scene(community, tg_user, group_chat, user_with_role, tg):
    """A community with an owner and a code, a group created by ``admin`` with the bot."""
    tenant = community()
    owner, admin = tg_user("owner"), tg_user("groupadmin")
    owner_user = user_with_role(tenant, "owner", user_id=owner["id"], username="owner")
    chat_id = group_chat(tenant, creator=admin)
    link = group_link_code_create(tenant=tenant, created_by=owner_user)
    return tenant, chat_id, link, owner, admin, bot_id_of(tenant)


def test_bind_command_binds_the_group_and_replies(scene, tg):
    tenant, chat_id, link, _, admin, bot_id = scene
    username = f"{tenant.slug.replace('-', '_')}_bot"

    update = tg.send_message(bot_id, chat_id, admin["id"], f"/bind@{username} {link.code}")
    _process(tg, tenant, update)

    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    with tenant_context(tenant):
        assert Group.objects.get(chat_id=chat_id).is_active
        assert LinkCode.objects.get(pk=link.pk).used_in_chat == chat_id
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"
    [reply] = tg.sent(bot_id, chat_id)
    assert reply["from"]["id"] == bot_id
    assert reply["text"] == f"This group is now connected to {tenant.name}. Admins synced: 1."
    # A direct reply to the admin's own message.
    assert reply["reply_to_message"]["message_id"] == update["message"]["message_id"]
    entry = Entry.objects.get(tenant=tenant, action="group.bound")
    assert entry.actor_id == str(admin["id"]) and entry.data["via"] == "link_code"


def test_bind_command_from_a_non_admin_is_refused_with_the_reason(scene, tg, tg_user):
    tenant, chat_id, link, _, _, bot_id = scene
    intruder = tg_user("intruder")
    tg.set_member(chat_id, intruder["id"], "member")

    _process(tg, tenant, tg.send_message(bot_id, chat_id, intruder["id"], f"/bind {link.code}"))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    [reply] = tg.sent(bot_id, chat_id)
    assert reply["text"] == (
        "Could not connect this group: only an administrator of this group can bind it"
    )


def test_bind_command_without_code_or_in_private_explains_usage(scene, tg):
    tenant, chat_id, link, _, admin, bot_id = scene

    _process(
        tg,
        tenant,
        tg.send_message(bot_id, chat_id, admin["id"], "/bind"),
        tg.send_message(bot_id, admin["id"], admin["id"], f"/bind {link.code}"),
    )

    assert tg.sent(bot_id, chat_id)[0]["text"].startswith("Send /bind followed by the code")
    assert tg.sent(bot_id, admin["id"])[0]["text"].startswith("Send /bind followed")
    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    with tenant_context(tenant):
        assert LinkCode.objects.get(pk=link.pk).used_at is None


def test_bot_added_then_removed_binds_then_unbinds(scene, tg):
    tenant, chat_id, _, owner, admin, bot_id = scene
    tg.set_member(chat_id, owner["id"], "administrator")
    tg.set_member(chat_id, bot_id, "left")  # the bot is not in the group yet

    added = tg.add_bot_to_group(bot_id, chat_id, owner["id"])
    assert added["my_chat_member"]["new_chat_member"]["status"] == "member"
    _process(tg, tenant, added)

    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    with tenant_context(tenant):
        group = Group.objects.get(chat_id=chat_id)
        assert group.is_active and group.admins.count() == 2
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"

    # Promoted to administrator: still a member, nothing changes.
    _process(tg, tenant, *tg.change_member(chat_id, bot_id, "administrator", owner["id"]))
    assert ChatBinding.objects.filter(chat_id=chat_id).exists()

    _process(tg, tenant, *tg.change_member(chat_id, bot_id, "kicked", owner["id"]))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    with tenant_context(tenant):
        assert not Group.objects.get(chat_id=chat_id).is_active
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "member"
    assert tg.sent(bot_id, chat_id) == []  # membership changes are silent


def test_bot_added_by_a_stranger_binds_nothing(scene, tg, tg_user):
    tenant, chat_id, _, _, _, bot_id = scene
    stranger = tg_user("stranger")
    tg.set_member(chat_id, stranger["id"], "member")
    tg.set_member(chat_id, bot_id, "left")

    _process(tg, tenant, tg.add_bot_to_group(bot_id, chat_id, stranger["id"]))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
