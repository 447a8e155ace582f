"""The bot's own profile: getMe, name, description, short description, commands and the
menu button, each per language (``language_code``; empty = every language without one)."""

from __future__ import annotations

import json
import re

from sandbox.telegram.errors import bad_request, required
from sandbox.telegram.methods.registry import Call, method
from sandbox.telegram.objects import JSONDict

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}


@method("getMe")
def get_me(call: Call) -> JSONDict:
    return {
        **call.bot.user,
        "can_join_groups": True,
        "can_read_all_group_messages": call.bot.can_read_all_group_messages,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def _language(call: Call) -> str:
    language = call.params.str("language_code") or ""
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad_request("LANG_CODE_INVALID")
    return language


def _set_text(call: Call, store: dict[str, str], field: str, limit: int) -> bool:
    value = call.params.str(field) or ""
    if len(value) > limit:
        raise bad_request(f"{field.replace('_', ' ')} is too long")
    language = _language(call)
    if value:
        store[language] = value
    else:
        store.pop(language, None)
    return True


def _get_text(call: Call, store: dict[str, str], default: str = "") -> str:
    language = _language(call)
    return store.get(language, store.get("", default))


@method("setMyName")
def set_my_name(call: Call) -> bool:
    _set_text(call, call.bot.names, "name", 64)
    default = call.bot.names.get("")
    if default and not call.params.str("language_code"):
        call.bot.user["first_name"] = default  # a bot's default name is its first_name
        call.world.users[call.bot.id] = call.bot.user
    return True


@method("getMyName")
def get_my_name(call: Call) -> JSONDict:
    return {"name": _get_text(call, call.bot.names, call.bot.user["first_name"])}


@method("setMyDescription")
def set_my_description(call: Call) -> bool:
    return _set_text(call, call.bot.descriptions, "description", 512)


@method("getMyDescription")
def get_my_description(call: Call) -> JSONDict:
    return {"description": _get_text(call, call.bot.descriptions)}


@method("setMyShortDescription")
def set_my_short_description(call: Call) -> bool:
    return _set_text(call, call.bot.short_descriptions, "short_description", 120)


@method("getMyShortDescription")
def get_my_short_description(call: Call) -> JSONDict:
    return {"short_description": _get_text(call, call.bot.short_descriptions)}


def _scope_key(call: Call) -> str:
    scope = call.params.json("scope") or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad_request("can't parse BotCommandScope JSON object")
    fields = _SCOPES[scope["type"]]
    if any(scope.get(name) in (None, "") for name in fields):
        raise bad_request(f"{fields[0]} is empty")
    # One stored list per exact scope, as getMyCommands reads them back.
    return json.dumps({"type": scope["type"], **{f: scope[f] for f in fields}}, sort_keys=True)


@method("setMyCommands")
def set_my_commands(call: Call) -> bool:
    commands = call.params.json("commands")
    if commands is None:
        raise required("commands")
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON array")
    if len(commands) > 100:
        raise bad_request("too many commands specified")
    kept = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand JSON object")
        name = str(command.get("command", "")).lstrip("/")
        description = str(command.get("description", ""))
        if not _COMMAND.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        kept.append({"command": name, "description": description})
    key = (_scope_key(call), _language(call))
    if kept:
        call.bot.commands[key] = kept
    else:
        call.bot.commands.pop(key, None)
    return True


@method("getMyCommands")
def get_my_commands(call: Call) -> list[JSONDict]:
    return [dict(c) for c in call.bot.commands.get((_scope_key(call), _language(call)), [])]


@method("deleteMyCommands")
def delete_my_commands(call: Call) -> bool:
    call.bot.commands.pop((_scope_key(call), _language(call)), None)
    return True


def _menu_chat(call: Call) -> int | None:
    chat_id = call.params.int("chat_id")
    if chat_id is not None and call.world.private(call.bot.id, chat_id) is None:
        raise bad_request("chat not found")  # menu buttons exist in private chats only
    return chat_id


@method("setChatMenuButton")
def set_chat_menu_button(call: Call) -> bool:
    chat_id = _menu_chat(call)
    button = call.params.json("menu_button") or {"type": "default"}
    if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
        raise bad_request("can't parse MenuButton JSON object")
    if button["type"] == "web_app":
        url = (button.get("web_app") or {}).get("url", "")
        if not button.get("text"):
            raise bad_request("menu button text is empty")
        # Telegram takes HTTPS only; the sandbox also opens plain-http Mini Apps (the demo).
        if not re.match(r"https?://\S+$", str(url)):
            raise bad_request("BUTTON_URL_INVALID")
        button = {"type": "web_app", "text": button["text"], "web_app": {"url": url}}
    else:
        button = {"type": button["type"]}
    if button["type"] == "default":
        call.bot.menu_buttons.pop(chat_id, None)
    else:
        call.bot.menu_buttons[chat_id] = button
    return True


@method("getChatMenuButton")
def get_chat_menu_button(call: Call) -> JSONDict:
    chat_id = _menu_chat(call)
    buttons = call.bot.menu_buttons
    if chat_id is not None:
        return dict(buttons.get(chat_id) or buttons.get(None) or {"type": "default"})
    return dict(buttons.get(None) or {"type": "commands"})
