"""The web page at /sandbox/ and the control API it drives: the page is served, every
endpoint it calls exists, and the calls it makes (create a user, a bot, a group, chat,
press a button, pay) do what the page shows. Also ``python -m sandbox.telegram``."""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import parse_qsl

import pytest
import telegram

from tests.sandbox.helpers import ROOT, http, ptb, run_module

WEB = ROOT / "sandbox" / "telegram" / "web"
TOKEN = "555000111:AAHwebpagetesttoken-for-bragabot-suite-x"


def api(tg, path: str, body: dict | None = None, status: int = 200):
    url = f"{tg.base_url}/sandbox/api{path}"
    response = http().get(url) if body is None else http().post(url, json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_the_page_and_its_assets_are_served(tg):
    page = http().get(f"{tg.base_url}/sandbox/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/sandbox/static/app.js">' in page.text
    for asset in ("app.js", "style.css"):
        assert http().get(f"{tg.base_url}/sandbox/static/{asset}").status_code == 200
    assert '<script src="/sandbox/shared/common.js">' in page.text
    assert http().get(f"{tg.base_url}/sandbox/shared/common.js").status_code == 200
    redirect = http().get(f"{tg.base_url}/sandbox", follow_redirects=False)
    assert redirect.status_code == 302 and redirect.headers["location"] == "/sandbox/"


def test_every_endpoint_the_page_calls_exists(tg):
    script = (WEB / "app.js").read_text()
    pieces = {p.split("?")[0] for p in re.findall(r'"(/[a-z_/]+[^"]*)"', script)}
    pieces.discard("/sandbox/api")  # the prefix itself
    routes = [route.resource.canonical for route in tg.app().router.routes()]
    control = [r.removeprefix("/sandbox/api") for r in routes if r.startswith("/sandbox/api/")]
    assert len(pieces) >= 10
    missing = [piece for piece in pieces if not any(piece in route for route in control)]
    assert missing == []


def test_a_person_chats_with_a_bot_through_the_control_api(tg):
    """The page's calls, in the order a person clicks through it; a bot answers through
    python-telegram-bot meanwhile."""
    user = api(tg, "/users", {"first_name": "Dana", "username": "dana"})
    bot = api(tg, "/bots", {"token": TOKEN, "username": "page_bot"})
    group = api(tg, "/groups", {"title": "Page fans"})
    api(tg, f"/groups/{group['id']}/members", {"user_id": user["id"], "status": "creator"})
    added = api(
        tg,
        f"/groups/{group['id']}/bots",
        {"bot_id": bot["id"], "by_user_id": user["id"], "status": "administrator"},
    )
    assert added["my_chat_member"]["new_chat_member"]["status"] == "administrator"
    state = api(tg, "/state")
    assert [b["username"] for b in state["bots"]] == ["page_bot"]
    assert "token" not in state["bots"][0]  # the page never sees tokens
    assert state["groups"][0]["members"] == [
        {"user_id": user["id"], "status": "creator"},
        {"user_id": bot["id"], "status": "administrator"},
    ]

    start = api(
        tg,
        "/messages",
        {"bot_id": bot["id"], "chat_id": user["id"], "user_id": user["id"], "text": "/start"},
    )
    assert start["message"]["entities"][0]["type"] == "bot_command"
    waiting = api(tg, f"/bots/{bot['id']}/updates")
    # Added to the group (my_chat_member, the new_chat_members message), then /start.
    assert [next(k for k in u if k != "update_id") for u in waiting] == [
        "my_chat_member",
        "message",
        "message",
    ]

    async def bot_replies():
        async with ptb(tg, TOKEN) as client:
            updates = await client.get_updates()
            keyboard = telegram.InlineKeyboardMarkup(
                [[telegram.InlineKeyboardButton("Claim", callback_data="claim")]]
            )
            await updates[-1].message.reply_text(
                "Welcome, <b>Dana</b>", parse_mode="HTML", reply_markup=keyboard
            )
            return updates[-1].update_id

    last = asyncio.run(bot_replies())
    chat = api(tg, f"/chats/{user['id']}/messages?bot_id={bot['id']}")
    assert [m["text"] for m in chat] == ["/start", "Welcome, Dana"]
    assert chat[1]["entities"] == [{"type": "bold", "offset": 9, "length": 4}]

    press = api(
        tg,
        "/buttons",
        {
            "bot_id": bot["id"],
            "chat_id": user["id"],
            "user_id": user["id"],
            "message_id": chat[1]["message_id"],
            "data": "claim",
        },
    )
    query_id = press["callback_query"]["id"]
    assert api(tg, f"/callbacks/{query_id}") == {"answer": None}

    async def bot_answers():
        async with ptb(tg, TOKEN) as client:
            [update] = await client.get_updates(offset=last + 1)
            await update.callback_query.answer("Claimed!", show_alert=True)

    asyncio.run(bot_answers())
    answer = api(tg, f"/callbacks/{query_id}")["answer"]
    assert (answer["text"], answer["show_alert"]) == ("Claimed!", True)


def test_the_group_view_shows_joins_and_messages(tg):
    owner = api(tg, "/users", {"first_name": "Owner"})
    guest = api(tg, "/users", {"first_name": "Guest"})
    bot = api(tg, "/bots", {"token": TOKEN})
    group = api(tg, "/groups", {"title": "Lounge"})
    api(tg, f"/groups/{group['id']}/members", {"user_id": owner["id"], "status": "creator"})
    api(tg, f"/groups/{group['id']}/bots", {"bot_id": bot["id"], "by_user_id": owner["id"]})

    refused = api(
        tg,
        "/messages",
        {"bot_id": bot["id"], "chat_id": group["id"], "user_id": guest["id"], "text": "hi"},
        status=400,
    )
    assert refused["code"] == "not_a_member"
    api(tg, f"/groups/{group['id']}/join", {"user_id": guest["id"]})
    api(
        tg,
        "/messages",
        {"bot_id": bot["id"], "chat_id": group["id"], "user_id": guest["id"], "text": "hi"},
    )

    history = api(tg, f"/chats/{group['id']}/messages")
    assert [m["new_chat_members"][0]["first_name"] for m in history if "new_chat_members" in m] == [
        bot["first_name"],
        "Guest",
    ]
    assert history[-1]["text"] == "hi" and history[-1]["from"]["id"] == guest["id"]


def test_blocking_paying_and_resetting_from_the_page(tg):
    user = api(tg, "/users", {"first_name": "Payer"})
    bot = api(tg, "/bots", {"token": TOKEN})
    api(
        tg,
        "/messages",
        {"bot_id": bot["id"], "chat_id": user["id"], "user_id": user["id"], "text": "/buy"},
    )

    async def invoice():
        async with ptb(tg, TOKEN) as client:
            return await client.send_invoice(
                user["id"],
                "Pack",
                "Ten raids",
                "pack:10",
                "XTR",
                [telegram.LabeledPrice("Pack", 10)],
            )

    message = asyncio.run(invoice())
    [update] = api(
        tg,
        "/invoices/pay",
        {
            "bot_id": bot["id"],
            "chat_id": user["id"],
            "user_id": user["id"],
            "message_id": message.message_id,
        },
    )
    assert update["pre_checkout_query"]["invoice_payload"] == "pack:10"
    assert update["pre_checkout_query"]["total_amount"] == 10

    api(tg, f"/users/{user['id']}/block", {"bot_id": bot["id"]})

    async def blocked():
        async with ptb(tg, TOKEN) as client:
            await client.send_message(user["id"], "still there?")

    try:
        asyncio.run(blocked())
    except telegram.error.Forbidden as refused:
        assert refused.message == "Forbidden: bot was blocked by the user"
    else:
        raise AssertionError("a blocked bot could still send")
    calls = api(tg, f"/bots/{bot['id']}/calls?method=sendMessage")
    assert [c["status"] for c in calls] == [403]

    api(tg, "/reset", {})
    assert api(tg, "/state") == {"bots": [], "users": [], "groups": []}


def test_python_dash_m_runs_the_sandbox_with_preregistered_bots():
    getme = f"/bot{TOKEN}/getMe"
    with run_module("sandbox.telegram", "--bot", f"{TOKEN}=cli_bot", ready=getme) as base:
        me = http().get(f"{base}{getme}").json()
        assert me["result"]["username"] == "cli_bot"
        assert http().get(f"{base}/sandbox/").status_code == 200


def test_a_mini_app_opens_with_initdata_the_platform_accepts(tg):
    """The page opens the bot's menu-button Mini App with signed initData in the URL
    fragment, as Telegram's apps do; the platform's own validator accepts it."""
    from accounts.initdata import validate_hmac

    user = api(tg, "/users", {"first_name": "Mia", "username": "mia", "language_code": "en"})
    bot = api(tg, "/bots", {"token": TOKEN})
    button = {"type": "web_app", "text": "App", "web_app": {"url": "http://demo.localhost:8000/"}}
    assert (
        http()
        .post(f"{tg.base_url}/bot{TOKEN}/setChatMenuButton", json={"menu_button": button})
        .json()["result"]
    )
    assert api(tg, "/state")["bots"][0]["menu_button"] == button

    opened = api(
        tg,
        f"/bots/{bot['id']}/web-app",
        {"user_id": user["id"], "url": "http://demo.localhost:8000/"},
    )

    page, _, fragment = opened["url"].partition("#")
    assert page == "http://demo.localhost:8000/"
    params = dict(parse_qsl(fragment))
    assert params["tgWebAppPlatform"] == "web"
    data = validate_hmac(params["tgWebAppData"], bot_token=TOKEN, now=int(time.time()), max_age=60)
    assert json.loads(data.fields["user"])["username"] == "mia"
    with pytest.raises(Exception, match="hash"):
        validate_hmac(
            params["tgWebAppData"],
            bot_token=TOKEN.replace("AAH", "AAX"),
            now=int(time.time()),
            max_age=60,
        )
