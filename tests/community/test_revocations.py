"""Capability revocations survive demotion and re-promotion, and a link code carries its
creator's authority only while they still hold it: the reproduction of issue 8 §2, end
to end through the bot's handlers on the sandbox Telegram."""

from __future__ import annotations

from accounts.selectors import user_capabilities, user_get, user_role
from accounts.services import membership_set_capabilities
from community.services import group_link_code_create
from history.services import Actor
from tenancy.models import ChatBinding
from tests.community.helpers import process_updates
from tests.helpers import bot_id_of


def _role(tenant, person) -> str:
    return user_role(tenant=tenant, user=user_get(telegram_id=person["id"]))


def _caps(tenant, person) -> set[str]:
    return {
        str(c) for c in user_capabilities(tenant=tenant, user=user_get(telegram_id=person["id"]))
    }


def test_a_demoted_admin_cannot_win_back_a_revoked_capability(community, tg_user, group_chat, tg):
    owner, admin = tg_user("owner"), tg_user("groupadmin")
    tenant = community(owner_telegram_id=owner["id"])
    bot_id = bot_id_of(tenant)
    owner_user = user_get(telegram_id=owner["id"])
    chat_id = group_chat(tenant, creator=admin)
    code = group_link_code_create(tenant=tenant, created_by=owner_user).code
    process_updates(tg, tenant, tg.send_message(bot_id, chat_id, admin["id"], f"/bind {code}"))
    admin_user = user_get(telegram_id=admin["id"])
    assert _role(tenant, admin) == "admin"

    # The owner takes manage_funds away from the group's admin.
    membership_set_capabilities(
        tenant=tenant,
        user=admin_user,
        grant=[],
        revoke=["manage_funds"],
        actor=Actor.user(owner_user),
    )
    assert "manage_funds" not in _caps(tenant, admin)
    # The admin prepares a code while they still manage settings...
    own_code = group_link_code_create(tenant=tenant, created_by=admin_user).code
    # ...removes the bot from their group (which demotes them), adds it back...
    process_updates(tg, tenant, *tg.change_member(chat_id, bot_id, "kicked", admin["id"]))
    assert _role(tenant, admin) == "member"
    process_updates(tg, tenant, tg.add_bot_to_group(bot_id, chat_id, admin["id"]))
    # ...and binds the group again with their own code.
    process_updates(tg, tenant, tg.send_message(bot_id, chat_id, admin["id"], f"/bind {own_code}"))

    assert not ChatBinding.objects.filter(chat_id=chat_id).exists()
    assert _role(tenant, admin) == "member"
    assert tg.sent(bot_id, chat_id)[-1]["text"] == (
        "Could not connect this group: the admin who created this code can no longer "
        "connect groups; ask a current admin for a new code"
    )

    # Bound again the rightful way: the admin is an admin again, still without funds.
    code = group_link_code_create(tenant=tenant, created_by=owner_user).code
    process_updates(tg, tenant, tg.send_message(bot_id, chat_id, admin["id"], f"/bind {code}"))
    assert _role(tenant, admin) == "admin"
    assert "manage_funds" not in _caps(tenant, admin)
    assert "manage_settings" in _caps(tenant, admin)

    # Only the owner lifts it.
    membership_set_capabilities(
        tenant=tenant,
        user=admin_user,
        grant=["manage_funds"],
        revoke=[],
        actor=Actor.user(owner_user),
    )
    assert "manage_funds" in _caps(tenant, admin)
