"""Fixtures for the sandbox Telegram: one server for the session (emptied before each
test, flood control off), a separate one with Telegram's real limits on a manual clock,
and helpers to call the Bot API raw (httpx) or through python-telegram-bot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import pytest
import telegram

from sandbox.telegram import Limits, ManualClock, SandboxTelegram

TOKEN = "700999001:AAHsandboxtesttoken-for-bragabot-suite"
OTHER_TOKEN = "700999002:AAHsandboxothertoken-for-bragabot-suit"
BOT_ID, OTHER_BOT_ID = 700999001, 700999002
GROUP = -1001234500001
ALICE, BOB, CAROL = 11, 12, 13


@pytest.fixture(scope="session")
def tg_server() -> Iterator[SandboxTelegram]:
    server = SandboxTelegram(limits=Limits.off(), webhook_backoff=(0.02, 0.1))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tg(tg_server: SandboxTelegram) -> SandboxTelegram:
    tg_server.reset()
    return tg_server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limited(clock: ManualClock) -> Iterator[SandboxTelegram]:
    """A sandbox with Telegram's default flood limits on a clock the test moves."""
    server = SandboxTelegram(limits=Limits(), clock=clock)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(tg: SandboxTelegram) -> SandboxTelegram:
    """Two bots in a supergroup with a creator (Alice), an admin (Bob) and a member
    (Carol); Alice has started the first bot in private."""
    tg.add_bot(TOKEN, username="loop_bot", first_name="Loop")
    tg.add_bot(OTHER_TOKEN, username="other_bot")
    tg.add_user(ALICE, "Alice", username="alice", last_name="Liddell", language_code="en")
    tg.add_user(BOB, "Bob")
    tg.add_user(CAROL, "Carol")
    tg.add_group(GROUP, title="Loop Fans", username="loopfans")
    tg.set_member(GROUP, ALICE, "creator", custom_title="Founder")
    tg.set_member(GROUP, BOB, "administrator", custom_title="Mod", can_pin_messages=True)
    tg.set_member(GROUP, CAROL, "member")
    tg.set_member(GROUP, BOT_ID, "administrator")
    tg.set_member(GROUP, OTHER_BOT_ID, "administrator")
    tg.send_message(BOT_ID, ALICE, ALICE, "/start")
    return tg


@cache
def http() -> httpx.Client:
    """One client for the whole run: building one costs a CA bundle load (~0.1 s)."""
    return httpx.Client(timeout=30)


@cache
def offline_bot() -> telegram.Bot:
    """A Bot for ``de_json`` only (it never sends)."""
    return telegram.Bot(TOKEN)


def call(
    server: SandboxTelegram,
    method: str,
    params: dict[str, Any] | None = None,
    *,
    how: str = "form",
    token: str = TOKEN,
    files: dict[str, Any] | None = None,
) -> httpx.Response:
    """A raw Bot API request: form-urlencoded (values JSON-encoded unless strings, as
    python-telegram-bot sends them), a JSON body, a query string, or multipart."""
    url = f"{server.base_url}/bot{token}/{method}"
    params = params or {}
    if how == "json":
        return http().post(url, json=params)
    data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
    if how == "query":
        return http().get(url, params=data)
    return http().post(url, data=data, files=files)


def result(server: SandboxTelegram, method: str, params: dict[str, Any] | None = None, **kw):
    """The ``result`` of a call that must succeed."""
    response = call(server, method, params, **kw)
    assert response.status_code == 200, response.text
    return response.json()["result"]


def error(server: SandboxTelegram, method: str, params: dict[str, Any] | None = None, **kw):
    """(status, description) of a call that must fail; checks the error envelope."""
    response = call(server, method, params, **kw)
    body = response.json()
    assert body["ok"] is False and body["error_code"] == response.status_code, body
    return response.status_code, body["description"]


def ptb(server: SandboxTelegram, token: str = TOKEN) -> telegram.Bot:
    return telegram.Bot(
        token, base_url=f"{server.base_url}/bot", base_file_url=f"{server.base_url}/file/bot"
    )
