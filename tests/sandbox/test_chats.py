"""Chats and members: administrators, member lookups, restricting, banning and unbanning
with Telegram's rules and errors, and the updates member changes produce."""

from __future__ import annotations

import pytest

from tests.sandbox.helpers import (
    ALICE,
    BOB,
    BOT_ID,
    CAROL,
    GROUP,
    OTHER_BOT_ID,
    OTHER_TOKEN,
    error,
    result,
)


def test_administrators_list_creator_first_and_other_bots_only_on_request(world):
    admins = result(world, "getChatAdministrators", {"chat_id": GROUP})
    ids = [a["user"]["id"] for a in admins]
    assert ids[0] == ALICE and set(ids) == {ALICE, BOB, BOT_ID}
    with_bots = result(world, "getChatAdministrators", {"chat_id": GROUP, "return_bots": True})
    assert OTHER_BOT_ID in {a["user"]["id"] for a in with_bots}


def test_member_lookups_cover_every_status(world):
    world.add_user(20, "Zed")
    world.set_member(GROUP, CAROL, "left")

    def status(user_id: int) -> str:
        return result(world, "getChatMember", {"chat_id": GROUP, "user_id": user_id})["status"]

    assert [status(u) for u in (ALICE, BOB, CAROL, 20)] == [
        "creator",
        "administrator",
        "left",
        "left",
    ]
    assert result(world, "getChatMemberCount", {"chat_id": GROUP}) == 4  # Alice, Bob, 2 bots


def test_restricting_a_member_with_dependent_permissions(world):
    permissions = {"can_send_messages": False, "can_send_polls": True}

    assert result(
        world,
        "restrictChatMember",
        {"chat_id": GROUP, "user_id": CAROL, "permissions": permissions},
    )

    member = world.member(GROUP, CAROL)
    assert member["status"] == "restricted" and member["is_member"] is True
    # Without use_independent_chat_permissions, polls imply text messages (Bot API).
    assert member["can_send_polls"] and member["can_send_messages"]
    assert not member["can_send_photos"] and member["until_date"] == 0

    independently = {
        "chat_id": GROUP,
        "user_id": CAROL,
        "permissions": permissions,
        "use_independent_chat_permissions": True,
    }
    result(world, "restrictChatMember", independently)
    member = world.member(GROUP, CAROL)
    assert member["can_send_polls"] and not member["can_send_messages"]


def test_granting_every_permission_lifts_the_restriction(world):
    world.set_member(GROUP, CAROL, "restricted", can_send_messages=False)
    everything = {name: True for name in world.member(GROUP, CAROL) if name.startswith("can_")}

    result(
        world, "restrictChatMember", {"chat_id": GROUP, "user_id": CAROL, "permissions": everything}
    )

    assert world.member(GROUP, CAROL)["status"] == "member"


def test_ban_and_unban(world):
    world.send_message(BOT_ID, GROUP, CAROL, "/spam")
    until = world.world.now() + 3600

    result(
        world,
        "banChatMember",
        {"chat_id": GROUP, "user_id": CAROL, "until_date": until, "revoke_messages": True},
    )

    assert world.member(GROUP, CAROL) == {
        "status": "kicked",
        "user": {"id": CAROL, "is_bot": False, "first_name": "Carol"},
        "until_date": until,
    }
    assert [m.get("text") for m in world.chat_messages(GROUP)] == []  # revoked
    assert result(
        world, "unbanChatMember", {"chat_id": GROUP, "user_id": CAROL, "only_if_banned": True}
    )
    assert world.member(GROUP, CAROL)["status"] == "left"


def test_unban_without_only_if_banned_removes_a_present_member(world):
    result(world, "unbanChatMember", {"chat_id": GROUP, "user_id": CAROL, "only_if_banned": True})
    assert world.member(GROUP, CAROL)["status"] == "member"

    result(world, "unbanChatMember", {"chat_id": GROUP, "user_id": CAROL})

    assert world.member(GROUP, CAROL)["status"] == "left"


def test_a_ban_until_a_date_too_close_means_forever(world):
    soon = world.world.now() + 10
    result(world, "banChatMember", {"chat_id": GROUP, "user_id": CAROL, "until_date": soon})
    assert world.member(GROUP, CAROL)["until_date"] == 0


@pytest.mark.parametrize(
    ("method", "user_id", "description"),
    [
        ("banChatMember", ALICE, "Bad Request: can't remove chat owner"),
        ("banChatMember", BOB, "Bad Request: user is an administrator of the chat"),
        ("banChatMember", BOT_ID, "Bad Request: can't restrict self"),
        ("banChatMember", 999, "Bad Request: user not found"),
        ("restrictChatMember", BOB, "Bad Request: user is an administrator of the chat"),
    ],
)
def test_who_cannot_be_restricted(world, method, user_id, description):
    params = {"chat_id": GROUP, "user_id": user_id, "permissions": {}}
    assert error(world, method, params) == (400, description)


def test_a_bot_needs_the_right_to_restrict(world):
    world.set_member(GROUP, BOT_ID, "administrator", can_restrict_members=False)
    params = {"chat_id": GROUP, "user_id": CAROL, "permissions": {}}

    assert error(world, "restrictChatMember", params) == (
        400,
        "Bad Request: not enough rights to restrict/unrestrict chat member",
    )
    world.set_member(GROUP, BOT_ID, "member")
    assert error(world, "banChatMember", params)[1] == (
        "Bad Request: not enough rights to restrict/unrestrict chat member"
    )


def test_restrict_is_for_supergroups_and_bans_not_for_private_chats(world):
    world.add_group(-4001, title="Basic", type="group")
    world.set_member(-4001, BOT_ID, "administrator")
    world.set_member(-4001, CAROL, "member")
    params = {"user_id": CAROL, "permissions": {}}

    assert error(world, "restrictChatMember", {"chat_id": -4001, **params}) == (
        400,
        "Bad Request: method is available only for supergroups",
    )
    assert error(world, "banChatMember", {"chat_id": ALICE, "user_id": ALICE}) == (
        400,
        "Bad Request: chat member status can't be changed in private chats",
    )


def test_member_changes_reach_admin_bots_and_the_bot_itself(world):
    result(
        world, "getUpdates", {"offset": -1, "allowed_updates": ["chat_member", "my_chat_member"]}
    )
    result(
        world,
        "getUpdates",
        {"offset": -1, "allowed_updates": ["my_chat_member"]},
        token=OTHER_TOKEN,
    )

    result(world, "banChatMember", {"chat_id": GROUP, "user_id": CAROL})
    result(world, "leaveChat", {"chat_id": GROUP}, token=OTHER_TOKEN)

    mine = [u["chat_member"] for u in result(world, "getUpdates") if "chat_member" in u]
    # Carol banned by this bot, and the other bot leaving on its own.
    assert [(c["new_chat_member"]["status"], c["from"]["id"]) for c in mine] == [
        ("kicked", BOT_ID),
        ("left", OTHER_BOT_ID),
    ]
    [left] = [u for u in result(world, "getUpdates", token=OTHER_TOKEN) if "my_chat_member" in u]
    assert left["my_chat_member"]["new_chat_member"]["status"] == "left"
    assert error(world, "getChat", {"chat_id": GROUP}, token=OTHER_TOKEN)[0] == 403


def test_adding_a_bot_gives_it_my_chat_member_and_the_service_message(world):
    world.set_member(GROUP, OTHER_BOT_ID, "left")

    update = world.add_bot_to_group(OTHER_BOT_ID, GROUP, BOB, status="administrator")

    change = update["my_chat_member"]
    assert (change["old_chat_member"]["status"], change["new_chat_member"]["status"]) == (
        "left",
        "administrator",
    )
    assert change["from"]["id"] == BOB
    updates = result(world, "getUpdates", token=OTHER_TOKEN)
    assert updates[0] == update
    assert updates[1]["message"]["new_chat_members"][0]["id"] == OTHER_BOT_ID
