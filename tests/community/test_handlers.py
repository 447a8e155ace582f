"""The community handlers end to end: people act on the sandbox Telegram, which queues the
updates Telegram would send; a python-telegram-bot Application pointed at the sandbox
processes them; the test checks the binding and what the bot said.

``async_to_sync`` drives the Application so that the handlers' ``sync_to_async`` service
calls run back on this thread, inside the test's database transaction."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from accounts.selectors import user_get, user_role
from community.models import Group, LinkCode
from community.services import group_link_code_create
from history.models import Entry
from tenancy.models import ChatBinding
from tests.community.helpers import chat_not_a_group, process_updates
from tests.helpers import bot_id_of


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
    process_updates(tg, tenant, update)

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

    process_updates(
        tg, tenant, tg.send_message(bot_id, chat_id, intruder["id"], f"/bind {link.code}")
    )

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    [reply] = tg.sent(bot_id, chat_id)
    assert reply["text"] == (
        "Could not connect this group: only an administrator of this group can bind it"
    )


def test_bind_command_without_code_or_in_private_explains_usage(scene, tg):
    tenant, chat_id, link, _, admin, bot_id = scene

    process_updates(
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
    process_updates(tg, tenant, added)

    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == tenant.pk
    with tenant_context(tenant):
        group = Group.objects.get(chat_id=chat_id)
        assert group.is_active and group.admins.count() == 2
    assert user_role(tenant=tenant, user=user_get(telegram_id=admin["id"])) == "admin"

    # Promoted to administrator: still a member, nothing changes.
    process_updates(tg, tenant, *tg.change_member(chat_id, bot_id, "administrator", owner["id"]))
    assert ChatBinding.objects.filter(chat_id=chat_id).exists()

    process_updates(tg, tenant, *tg.change_member(chat_id, bot_id, "kicked", owner["id"]))

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

    process_updates(tg, tenant, tg.add_bot_to_group(bot_id, chat_id, stranger["id"]))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()


# ---- squatting: updates are claims, Telegram is asked -------------------------------------
def _forged_bot_added(tenant, chat_id: int, chat_type: str, by: dict) -> dict:
    """A my_chat_member update nobody on Telegram sent: whoever holds the bot's token
    (its webhook secret derives from it) can post this to the bot's webhook."""
    bot = {"id": bot_id_of(tenant), "is_bot": True, "first_name": "Bot", "username": "b_bot"}
    return {
        "update_id": 900_001,
        "my_chat_member": {
            "chat": {"id": chat_id, "type": chat_type, "title": "Mine now"},
            "from": {"id": by["id"], "is_bot": False, "first_name": by["first_name"]},
            "date": 0,
            "old_chat_member": {"status": "left", "user": bot},
            "new_chat_member": {"status": "member", "user": bot},
        },
    }


def _refusals(caplog) -> list[str]:
    return [r.code for r in caplog.records if r.getMessage() == "community.group.bind_refused"]


def test_a_forged_bot_added_for_a_chat_the_bot_is_not_in_binds_nothing(scene, tg, tg_user, caplog):
    tenant, _, _, owner, _, _ = scene
    victim_chat = tg.add_group(title="Someone else's group")["id"]
    tg.set_member(victim_chat, owner["id"], "creator")  # even their own: the bot is absent

    process_updates(tg, tenant, _forged_bot_added(tenant, victim_chat, "supergroup", owner))

    assert not ChatBinding.objects.filter(chat_id=victim_chat).exists()
    with tenant_context(tenant):
        assert not Group.objects.filter(chat_id=victim_chat).exists()
    assert _refusals(caplog) == ["bot_not_in_chat"]


def test_a_brands_bot_added_by_a_plain_member_does_not_take_the_group(
    scene, tg, tg_user, community, group_chat
):
    tenant, _, _, owner, _, bot_id = scene
    # A community owner who is only a member of another community's group adds their
    # brand's bot there.
    rightful_owner = tg_user("rightful")
    rightful = community(owner_telegram_id=rightful_owner["id"])
    chat_id = group_chat(rightful, creator=rightful_owner, members=[owner])

    process_updates(tg, tenant, tg.add_bot_to_group(bot_id, chat_id, owner["id"]))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    # The group's rightful community is not blocked (no chat_bound_elsewhere).
    tg.set_member(chat_id, bot_id_of(rightful), "left")
    process_updates(
        tg, rightful, tg.add_bot_to_group(bot_id_of(rightful), chat_id, rightful_owner["id"])
    )
    assert ChatBinding.objects.get(chat_id=chat_id).tenant_id == rightful.pk


@pytest.mark.parametrize("kind", ["channel", "private"])
def test_a_channel_or_private_chat_claimed_to_be_a_group_binds_nothing(scene, tg, caplog, kind):
    tenant, _, _, owner, _, bot_id = scene
    chat_id = chat_not_a_group(tg, kind, owner, bot_id)

    process_updates(tg, tenant, _forged_bot_added(tenant, chat_id, "supergroup", owner))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    assert _refusals(caplog) == ["not_a_group"]
