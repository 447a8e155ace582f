"""The bot's profile: name, descriptions, commands per scope and language, menu button."""

from __future__ import annotations

from tests.sandbox.helpers import ALICE, error, result


def test_name_and_descriptions_per_language(world):
    result(world, "setMyName", {"name": "Raid Bot"})
    result(world, "setMyName", {"name": "Raid-Bot", "language_code": "de"})
    result(world, "setMyDescription", {"description": "Raids and rewards"})

    assert result(world, "getMyName") == {"name": "Raid Bot"}
    assert result(world, "getMyName", {"language_code": "de"}) == {"name": "Raid-Bot"}
    assert result(world, "getMyName", {"language_code": "fr"}) == {"name": "Raid Bot"}
    assert result(world, "getMe")["first_name"] == "Raid Bot"  # the default name is first_name
    assert result(world, "getMyDescription", {"language_code": "fr"}) == {
        "description": "Raids and rewards"
    }
    result(world, "setMyDescription", {})  # an empty description removes it
    assert result(world, "getMyDescription") == {"description": ""}
    assert error(world, "setMyShortDescription", {"short_description": "x" * 121}) == (
        400,
        "Bad Request: short description is too long",
    )


def test_commands_are_kept_per_scope_and_language(world):
    everyone = [{"command": "start", "description": "Start"}]
    admins = [{"command": "raid", "description": "Start a raid"}]
    admin_scope = {"type": "all_chat_administrators"}
    result(world, "setMyCommands", {"commands": everyone})
    result(world, "setMyCommands", {"commands": admins, "scope": admin_scope})
    result(world, "setMyCommands", {"commands": admins, "language_code": "de"})

    assert result(world, "getMyCommands") == everyone
    assert result(world, "getMyCommands", {"scope": admin_scope}) == admins
    assert result(world, "getMyCommands", {"language_code": "de"}) == admins
    assert result(world, "getMyCommands", {"scope": {"type": "all_group_chats"}}) == []
    result(world, "deleteMyCommands", {"scope": admin_scope})
    assert result(world, "getMyCommands", {"scope": admin_scope}) == []


def test_invalid_commands_are_refused(world):
    assert error(
        world, "setMyCommands", {"commands": [{"command": "Start!", "description": "x"}]}
    ) == (400, "Bad Request: BOT_COMMAND_INVALID")
    assert error(
        world, "setMyCommands", {"commands": [{"command": "start", "description": ""}]}
    ) == (400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")


def test_menu_button_default_and_per_chat(world):
    web_app = {"type": "web_app", "text": "Open", "web_app": {"url": "https://app.example.org"}}
    assert result(world, "getChatMenuButton") == {"type": "commands"}

    result(world, "setChatMenuButton", {"chat_id": ALICE, "menu_button": web_app})

    assert result(world, "getChatMenuButton", {"chat_id": ALICE}) == web_app
    assert result(world, "getChatMenuButton") == {"type": "commands"}
    result(world, "setChatMenuButton", {"chat_id": ALICE})  # no button: back to the default
    assert result(world, "getChatMenuButton", {"chat_id": ALICE}) == {"type": "default"}
    # Plain http is accepted for the demo's local Mini App; anything else is not a URL.
    local = {**web_app, "web_app": {"url": "http://demo.localhost:8000/"}}
    assert result(world, "setChatMenuButton", {"menu_button": local}) is True
    assert result(world, "getChatMenuButton") == local
    script = {**web_app, "web_app": {"url": "javascript:alert(1)"}}
    assert error(world, "setChatMenuButton", {"menu_button": script}) == (
        400,
        "Bad Request: BUTTON_URL_INVALID",
    )
