"""The loopback Telegram answers with documented shapes only: every object's fields are
fields of its Bot API type (tests/data/telegram_bot_api.json, Bot API 10.1), required
fields are present and values have the documented types."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import telegram

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "telegram_bot_api.json"
TOKEN = "700999001:AAHloopbacktesttoken-for-bragabot-suite"
OTHER_TOKEN = "700999002:AAHloopbackothertoken-for-bragabot-suit"
CHAT_ID = -1001234500001


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def conformance_errors(value: Any, type_name: str, path: str = "result") -> list[str]:
    """Why ``value`` is not a valid ``type_name`` (a Bot API type expression)."""
    if type_name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: expected an array"]
        return [
            e
            for i, item in enumerate(value)
            for e in conformance_errors(item, type_name[len("Array of ") :], f"{path}[{i}]")
        ]
    primitives = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "Boolean": lambda v: isinstance(v, bool),
        "True": lambda v: v is True,
    }
    if type_name in primitives:
        return [] if primitives[type_name](value) else [f"{path}: expected {type_name}"]
    definition = spec()["types"][type_name]
    if definition.get("subtypes"):
        # An abstract type (ChatMember): the value must be one of its documented kinds.
        attempts = [conformance_errors(value, sub, path) for sub in definition["subtypes"]]
        return (
            []
            if any(not a for a in attempts)
            else [f"{path}: matches no subtype of {type_name}: {min(attempts, key=len)}"]
        )
    if not isinstance(value, dict):
        return [f"{path}: expected a {type_name} object"]
    fields = {f["name"]: f for f in definition.get("fields", [])}
    errors = [f"{path}.{key}: not a field of {type_name}" for key in value if key not in fields]
    errors += [
        f"{path}.{name}: required by {type_name} but missing"
        for name, f in fields.items()
        if f["required"] and name not in value
    ]
    for key, item in value.items():
        if key in fields:
            options = [conformance_errors(item, t, f"{path}.{key}") for t in fields[key]["types"]]
            if all(options):
                errors += options[0]
    # A documented constant ("always "administrator"") must hold too.
    for name, f in fields.items():
        description = f.get("description", "")
        if name in value and 'always "' in description:
            constant = description.split('always "', 1)[1].split('"', 1)[0]
            if value[name] != constant:
                errors.append(f"{path}.{name}: must always be {constant!r}")
    return errors


def test_the_checker_catches_undocumented_and_missing_fields():
    user = {"id": 1, "is_bot": False, "first_name": "A"}
    assert conformance_errors(user, "User") == []
    assert conformance_errors({**user, "nickname": "x"}, "User") == [
        "result.nickname: not a field of User"
    ]
    assert conformance_errors({"id": 1, "is_bot": False}, "User") == [
        "result.first_name: required by User but missing"
    ]
    assert conformance_errors({**user, "id": "1"}, "User") == ["result.id: expected Integer"]
    assert conformance_errors({"status": "creator", "user": user}, "ChatMember")
    assert conformance_errors({"status": "member", "user": user}, "ChatMember") == []
    assert conformance_errors(
        {"status": "member", "user": user, "is_anonymous": False}, "ChatMember"
    )


@pytest.fixture
def world(telegram):
    """A bot in a supergroup with a creator, an administrator and a member."""
    telegram.add_bot(TOKEN, username="loop_bot")
    telegram.add_bot(OTHER_TOKEN, username="other_bot")
    alice = telegram.add_user(
        11, "Alice", username="alice", last_name="Liddell", language_code="en"
    )
    bob, carol = telegram.add_user(12, "Bob"), telegram.add_user(13, "Carol")
    telegram.add_chat(
        CHAT_ID,
        title="Loop Fans",
        username="loopfans",
        admins=[
            telegram.owner(alice, custom_title="Founder"),
            telegram.administrator(bob, custom_title="Mod", can_pin_messages=True),
            telegram.administrator(telegram.bot_user(TOKEN)),
            telegram.administrator(telegram.bot_user(OTHER_TOKEN)),
        ],
        members=[telegram.member(carol)],
    )
    telegram.add_chat(11, chat_type="private")
    return telegram


def _call(
    server, method: str, params: dict | None = None, *, how: str = "form", token: str = TOKEN
) -> httpx.Response:
    url = f"{server.base_url}/bot{token}/{method}"
    if how == "json":
        return httpx.post(url, json=params or {})
    if how == "query":
        return httpx.get(url, params=params or {})
    return httpx.post(
        url, data={k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
    )


CALLS = [
    ("getMe", {}),
    ("getChat", {"chat_id": CHAT_ID}),
    ("getChat", {"chat_id": "@loopfans"}),
    ("getChat", {"chat_id": 11}),
    ("getChatAdministrators", {"chat_id": CHAT_ID}),
    ("getChatAdministrators", {"chat_id": CHAT_ID, "return_bots": True}),
    ("getChatMember", {"chat_id": CHAT_ID, "user_id": 11}),
    ("getChatMember", {"chat_id": CHAT_ID, "user_id": 12}),
    ("getChatMember", {"chat_id": CHAT_ID, "user_id": 13}),
    ("sendMessage", {"chat_id": CHAT_ID, "text": "hello", "message_thread_id": 7}),
    ("sendMessage", {"chat_id": 11, "text": "hi Alice"}),
]


@pytest.mark.parametrize("how", ["form", "json", "query"])
@pytest.mark.parametrize(("method", "params"), CALLS)
def test_every_answer_uses_only_documented_fields(world, method, params, how):
    response = _call(world, method, params, how=how)

    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"ok", "result"} and body["ok"] is True
    [returns] = spec()["methods"][method]["returns"]
    assert conformance_errors(body["result"], returns) == []


def test_get_chat_member_of_someone_who_left_is_a_documented_left_member(world):
    world.remove_member(CHAT_ID, 13)
    body = _call(world, "getChatMember", {"chat_id": CHAT_ID, "user_id": 13}).json()
    assert body["result"]["status"] == "left"
    assert conformance_errors(body["result"], "ChatMember") == []


def test_administrators_list_creator_first_and_other_bots_only_on_request(world):
    admins = _call(world, "getChatAdministrators", {"chat_id": CHAT_ID}).json()["result"]
    ids = [a["user"]["id"] for a in admins]
    assert ids[0] == 11 and set(ids) == {11, 12, 700999001}
    with_bots = _call(
        world, "getChatAdministrators", {"chat_id": CHAT_ID, "return_bots": True}
    ).json()["result"]
    assert 700999002 in {a["user"]["id"] for a in with_bots}


def test_sent_messages_are_recorded(world):
    _call(world, "sendMessage", {"chat_id": CHAT_ID, "text": "one"})
    _call(world, "sendMessage", {"chat_id": CHAT_ID, "text": "two"}, how="json")
    sent = world.messages_to(CHAT_ID)
    assert [(m.text, m.bot_id, m.message["message_id"]) for m in sent] == [
        ("one", 700999001, 1),
        ("two", 700999001, 2),
    ]


ERRORS = [
    ({"method": "getChat", "params": {"chat_id": -42}}, 400, "Bad Request: chat not found"),
    ({"method": "getChat", "params": {}}, 400, "Bad Request: chat_id is empty"),
    (
        {"method": "getChatMember", "params": {"chat_id": CHAT_ID, "user_id": 999}},
        400,
        "Bad Request: user not found",
    ),
    (
        {"method": "sendMessage", "params": {"chat_id": CHAT_ID, "text": " "}},
        400,
        "Bad Request: message text is empty",
    ),
    (
        {"method": "sendMessage", "params": {"chat_id": CHAT_ID, "text": "x" * 4097}},
        400,
        "Bad Request: message is too long",
    ),
    (
        {"method": "getMe", "params": {}, "token": "1:AAwrongtokenwrongtokenwrongtoken00"},
        401,
        "Unauthorized",
    ),
    ({"method": "getUpdatez", "params": {}}, 404, "Not Found"),
]


@pytest.mark.parametrize(("call", "status", "description"), ERRORS)
def test_errors_have_the_bot_api_shape(world, call, status, description):
    response = _call(world, call["method"], call["params"], token=call.get("token", TOKEN))

    assert response.status_code == status
    assert response.json() == {"ok": False, "error_code": status, "description": description}


def test_kicked_bot_gets_forbidden(world):
    world.remove_member(CHAT_ID, 700999001, kicked=True)
    response = _call(world, "getChatAdministrators", {"chat_id": CHAT_ID})
    assert response.status_code == 403
    assert response.json()["description"] == "Forbidden: bot was kicked from the supergroup chat"


def test_python_telegram_bot_reads_every_answer(world):
    async def run():
        async with telegram.Bot(TOKEN, base_url=f"{world.base_url}/bot") as bot:
            me = await bot.get_me()
            chat = await bot.get_chat(CHAT_ID)
            admins = await bot.get_chat_administrators(CHAT_ID)
            member = await bot.get_chat_member(CHAT_ID, 13)
            message = await bot.send_message(CHAT_ID, "hello")
            with pytest.raises(telegram.error.BadRequest, match="Chat not found"):
                await bot.get_chat(-42)
            return me, chat, admins, member, message

    me, chat, admins, member, message = asyncio.run(run())
    assert (me.id, me.username, me.is_bot) == (700999001, "loop_bot", True)
    assert (chat.title, chat.type) == ("Loop Fans", "supergroup")
    assert isinstance(admins[0], telegram.ChatMemberOwner)
    assert admins[0].custom_title == "Founder"
    assert isinstance(admins[1], telegram.ChatMemberAdministrator)
    assert isinstance(member, telegram.ChatMemberMember)
    assert (message.text, message.chat.id, message.from_user.id) == ("hello", CHAT_ID, me.id)
    for obj in (me, chat, *admins, member, message):
        assert not obj.api_kwargs, f"PTB saw undocumented fields: {obj.api_kwargs}"
