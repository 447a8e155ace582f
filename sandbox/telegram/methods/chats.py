"""Chats and members: getChat, getChatMember, getChatAdministrators, getChatMemberCount,
restrictChatMember, banChatMember, unbanChatMember, leaveChat."""

from __future__ import annotations

import copy

from sandbox.telegram.errors import bad_request, required
from sandbox.telegram.methods.registry import Call, method
from sandbox.telegram.objects import (
    JSONDict,
    chat_member,
    full_info,
    is_admin,
    is_present,
    restrict_permissions,
)
from sandbox.telegram.world import Group, Private

# until_date closer than 30 seconds or further than 366 days means "forever" (Bot API).
_UNTIL_MIN, _UNTIL_MAX = 30, 366 * 24 * 3600


def _group(call: Call, *, supergroup_only: bool = False) -> Group:
    chat = call.world.chat_for(call.bot, call.params.chat_id())
    if not isinstance(chat, Group):
        if supergroup_only:
            raise bad_request("method is available only for supergroups")
        raise bad_request("chat member status can't be changed in private chats")
    if supergroup_only and chat.chat["type"] != "supergroup":
        raise bad_request("method is available only for supergroups")
    return chat


def _until(call: Call) -> int:
    until = call.params.int("until_date", default=0) or 0
    ahead = until - call.world.now()
    return until if _UNTIL_MIN <= ahead <= _UNTIL_MAX else 0


def _change(call: Call, group: Group, user_id: int, status: str, **options: object) -> None:
    old = call.world.set_status(group, user_id, status, **options)
    new = group.members[user_id]
    if old != new:
        call.world.member_changed(group, old, new, by=call.bot.user)


@method("getChat")
def get_chat(call: Call) -> JSONDict:
    chat = call.world.chat_for(call.bot, call.params.chat_id())
    if isinstance(chat, Group):
        return full_info(chat.chat, permissions=chat.permissions, description=chat.description)
    return full_info(chat.chat, permissions=None, description="")


@method("getChatMember")
def get_chat_member(call: Call) -> JSONDict:
    world = call.world
    chat = world.chat_for(call.bot, call.params.chat_id())
    user_id = call.params.user_id()
    if user_id not in world.users:
        raise bad_request("user not found")
    if isinstance(chat, Private):
        if user_id not in (chat.bot_id, chat.user_id):
            raise bad_request("user not found")
        return chat_member(world.users[user_id], "member")
    return world.member_or_left(chat, user_id)  # type: ignore[arg-type]  # not Private: a Group


@method("getChatAdministrators")
def get_chat_administrators(call: Call) -> list[JSONDict]:
    chat = call.world.chat_for(call.bot, call.params.chat_id())
    if not isinstance(chat, Group):
        raise bad_request("there are no administrators in the private chat")
    return_bots = call.params.bool("return_bots")
    admins = [
        copy.deepcopy(entry)
        for entry in chat.members.values()
        if is_admin(entry)
        # Other bots are left out unless asked for; the calling bot is always listed.
        and (not entry["user"]["is_bot"] or entry["user"]["id"] == call.bot.id or return_bots)
    ]
    admins.sort(key=lambda entry: entry["status"] != "creator")  # the creator comes first
    return admins


@method("getChatMemberCount")
def get_chat_member_count(call: Call) -> int:
    chat = call.world.chat_for(call.bot, call.params.chat_id())
    if isinstance(chat, Group):
        return sum(1 for entry in chat.members.values() if is_present(entry))
    return 2


@method("restrictChatMember")
def restrict_chat_member(call: Call) -> bool:
    group = _group(call, supergroup_only=True)
    user_id = call.params.user_id()
    old = call.world.check_member_target(call.bot, group, user_id)
    given = call.params.json("permissions")
    if given is None:
        raise required("permissions")
    if not isinstance(given, dict):
        raise bad_request("can't parse permissions JSON object")
    independent = call.params.bool("use_independent_chat_permissions")
    permissions = restrict_permissions(given, independent=independent)
    present = is_present(old)
    if all(permissions.values()):  # nothing left to restrict: an ordinary member again
        _change(call, group, user_id, "member" if present else "left")
    else:
        _change(
            call,
            group,
            user_id,
            "restricted",
            is_member=present,
            until_date=_until(call),
            **permissions,
        )
    return True


@method("banChatMember")
def ban_chat_member(call: Call) -> bool:
    group = _group(call)
    user_id = call.params.user_id()
    call.world.check_member_target(call.bot, group, user_id)
    _change(call, group, user_id, "kicked", until_date=_until(call))
    # Basic groups always lose the user's messages; supergroups on request.
    if call.params.bool("revoke_messages") or group.chat["type"] == "group":
        for stored in group.messages.values():
            if stored.message["from"]["id"] == user_id:
                stored.deleted = True
    return True


@method("unbanChatMember")
def unban_chat_member(call: Call) -> bool:
    group = _group(call)
    user_id = call.params.user_id()
    current = group.member(user_id)
    banned = current is not None and current["status"] == "kicked"
    if call.params.bool("only_if_banned") and not banned:
        return True
    call.world.check_member_target(call.bot, group, user_id)
    # Unbanning someone still in the chat removes them (they may come back by link).
    if banned or is_present(current):
        _change(call, group, user_id, "left")
    return True


@method("leaveChat")
def leave_chat(call: Call) -> bool:
    group = _group(call)
    _change(call, group, call.bot.id, "left")
    return True
