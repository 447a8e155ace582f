"""Bot API objects as the sandbox returns them: User, Chat, ChatFullInfo, ChatMember*,
ChatPermissions and MessageEntity. Only fields the Bot API documents for each type
(tests/sandbox checks them against the published spec)."""

from __future__ import annotations

import re
from typing import Any, TypeGuard

JSONDict = dict[str, Any]

GROUP_TYPES = ("group", "supergroup")
STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")

# ChatMemberAdministrator's required rights; a promoted admin gets them all except
# promoting others, as Telegram's default admin template does.
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
ADMIN_OPTIONAL = ("can_pin_messages", "can_manage_topics", "can_post_messages", "can_edit_messages")

PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_react_to_messages",
    "can_edit_tag",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
)
# What a new group lets its members do (Telegram's defaults for a fresh group).
DEFAULT_PERMISSIONS = {
    name: name not in ("can_change_info", "can_pin_messages", "can_manage_topics")
    for name in PERMISSIONS
}
# The media permissions: every can_send_* but plain messages, polls and "other".
_MEDIA = tuple(
    name
    for name in PERMISSIONS
    if name.startswith("can_send_")
    and name not in ("can_send_messages", "can_send_polls", "can_send_other_messages")
)


def user_object(
    user_id: int,
    first_name: str,
    *,
    is_bot: bool = False,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
    is_premium: bool | None = None,
) -> JSONDict:
    user: JSONDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    if is_premium:
        user["is_premium"] = True
    return user


def private_chat(user: JSONDict) -> JSONDict:
    """The Chat object of a private chat with ``user``, as the bot sees it."""
    chat: JSONDict = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for key in ("last_name", "username"):
        if user.get(key):
            chat[key] = user[key]
    return chat


def full_info(chat: JSONDict, *, permissions: JSONDict | None, description: str) -> JSONDict:
    """ChatFullInfo: the Chat plus the fields getChat always answers with."""
    info: JSONDict = {
        **chat,
        "accent_color_id": 0,
        "max_reaction_count": 11,
        "accepted_gift_types": {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    }
    if permissions is not None:
        info["permissions"] = dict(permissions)
    if description:
        info["description"] = description
    return info


def chat_member(user: JSONDict, status: str, **options: Any) -> JSONDict:
    """A ChatMember of the given ``status`` for ``user``. Options: ``custom_title`` and
    ``is_anonymous`` (creator, administrator); administrator rights (``can_*``,
    ``can_be_edited``); restricted permissions (``can_*``), ``is_member`` and
    ``until_date``; ``until_date`` for kicked."""
    if status not in STATUSES:
        raise ValueError(f"unknown chat member status {status!r}; one of {', '.join(STATUSES)}")
    member: JSONDict = {"status": status, "user": dict(user)}
    if status == "creator":
        _only(options, {"custom_title", "is_anonymous"}, status)
        member["is_anonymous"] = bool(options.get("is_anonymous", False))
    elif status == "administrator":
        _only(
            options,
            {*ADMIN_RIGHTS, *ADMIN_OPTIONAL, "can_be_edited", "is_anonymous", "custom_title"},
            status,
        )
        member["can_be_edited"] = bool(options.get("can_be_edited", False))
        member["is_anonymous"] = bool(options.get("is_anonymous", False))
        for right in ADMIN_RIGHTS:
            member[right] = bool(options.get(right, right != "can_promote_members"))
        for right in ADMIN_OPTIONAL:
            if right in options:
                member[right] = bool(options[right])
    elif status == "restricted":
        _only(options, {*PERMISSIONS, "is_member", "until_date"}, status)
        member["is_member"] = bool(options.get("is_member", True))
        for name in PERMISSIONS:
            member[name] = bool(options.get(name, False))
        member["until_date"] = int(options.get("until_date", 0))
    elif status == "kicked":
        _only(options, {"until_date"}, status)
        member["until_date"] = int(options.get("until_date", 0))
    else:
        _only(options, set(), status)
    if options.get("custom_title") and status in ("creator", "administrator"):
        member["custom_title"] = str(options["custom_title"])
    return member


def _only(options: dict, allowed: set[str], status: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(f"{sorted(unknown)} do not apply to a {status!r} chat member")


def is_present(member: JSONDict | None) -> TypeGuard[JSONDict]:
    """In the chat: creator, administrator, member, or restricted but still a member."""
    if member is None:
        return False
    if member["status"] == "restricted":
        return bool(member.get("is_member"))
    return member["status"] in ("creator", "administrator", "member")


def is_admin(member: JSONDict | None) -> bool:
    return member is not None and member["status"] in ("creator", "administrator")


def has_right(member: JSONDict | None, right: str) -> bool:
    """Whether an admin holds ``right`` (the creator holds every right)."""
    if member is None:
        return False
    return member["status"] == "creator" or (
        member["status"] == "administrator" and bool(member.get(right))
    )


def can_send(member: JSONDict | None, permissions: JSONDict) -> bool:
    """Whether a member may write text messages in the group."""
    if member is None or not is_present(member):
        return False
    if member["status"] == "restricted":
        return bool(member.get("can_send_messages"))
    return is_admin(member) or bool(permissions.get("can_send_messages", True))


def restrict_permissions(given: JSONDict, *, independent: bool) -> JSONDict:
    """The permissions restrictChatMember applies: unnamed ones are off; without
    ``use_independent_chat_permissions``, other-messages and web-page-previews imply
    every send permission and polls imply text messages (Bot API semantics)."""
    permissions = {name: bool(given.get(name, False)) for name in PERMISSIONS}
    if not independent:
        if permissions["can_send_other_messages"] or permissions["can_add_web_page_previews"]:
            for name in ("can_send_messages", *_MEDIA):
                permissions[name] = True
        if permissions["can_send_polls"]:
            permissions["can_send_messages"] = True
    return permissions


# ---- entities ---------------------------------------------------------------------------
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSONDict]:
    """The bot_command entities Telegram marks in a user's text."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def command_target(text: str) -> tuple[str, str | None] | None:
    """``("/cmd", "bot_username" or None)`` when the text starts with a command."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    command, _, username = match.group().partition("@")
    return command, username or None
