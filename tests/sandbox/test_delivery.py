"""Webhooks: updates POSTed to the bot's URL with its secret token, in order; non-2xx
answers retried with growing delays while getWebhookInfo shows the backlog and the last
error; a method in the webhook's answer is carried out, as Telegram does."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web

from sandbox.serving import retry_delay
from tests.sandbox.helpers import ALICE, BOT_ID, conformance_errors, error, result, result_errors


class Receiver:
    """A webhook endpoint in its own thread: records every request, answers with the
    queued statuses (then 200) and an optional JSON reply."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, dict]] = []  # (headers, update)
        self.statuses: list[int] = []
        self.reply: dict | None = None
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(5)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200 and self.reply is not None:
            reply, self.reply = self.reply, None
            return web.json_response(reply)
        return web.Response(status=status)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def texts(self) -> list[str]:
        return [update["message"]["text"] for _, update in self.requests if "message" in update]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the sandbox did not get there in time"
        time.sleep(0.01)


def test_updates_are_posted_with_the_secret_token(world, receiver):
    world.send_message(BOT_ID, ALICE, ALICE, "waiting before the webhook")

    response = result(world, "setWebhook", {"url": receiver.url, "secret_token": "s3cret_token-1"})
    world.send_message(BOT_ID, ALICE, ALICE, "after")

    assert response is True
    wait_until(lambda: len(receiver.requests) == 3)
    assert receiver.texts() == ["/start", "waiting before the webhook", "after"]
    assert [conformance_errors(update, "Update") for _, update in receiver.requests] == [[]] * 3
    headers = [h for h, _ in receiver.requests]
    assert {h["X-Telegram-Bot-Api-Secret-Token"] for h in headers} == {"s3cret_token-1"}
    assert {h["Content-Type"] for h in headers} == {"application/json"}
    wait_until(lambda: result(world, "getWebhookInfo")["pending_update_count"] == 0)
    assert result(world, "getWebhookInfo") == {
        "url": receiver.url,
        "has_custom_certificate": False,
        "pending_update_count": 0,
        "max_connections": 40,
    }


def test_a_failing_webhook_is_retried_in_order_and_reported(world, receiver, monkeypatch):
    # Slow retries, so the backlog can be looked at between the attempts.
    monkeypatch.setattr(world.delivery, "backoff", (0.3, 0.3))
    receiver.statuses = [500, 503]
    result(world, "setWebhook", {"url": receiver.url, "drop_pending_updates": True})
    world.send_message(BOT_ID, ALICE, ALICE, "first")
    world.send_message(BOT_ID, ALICE, ALICE, "second")

    wait_until(lambda: len(receiver.requests) >= 2)
    info = result(world, "getWebhookInfo")
    assert info["pending_update_count"] == 2
    assert info["last_error_message"].startswith("Wrong response from the webhook: 5")
    assert isinstance(info["last_error_date"], int)

    wait_until(lambda: receiver.texts()[-1:] == ["second"])
    # The first update until it got a 2xx, and only then the second.
    assert receiver.texts() == ["first", "first", "first", "second"]
    info = result(world, "getWebhookInfo")
    assert info["pending_update_count"] == 0
    assert info["last_error_message"] == "Wrong response from the webhook: 503 Service Unavailable"


def test_retry_delays_double_up_to_a_cap():
    assert [retry_delay(n, base=1.0, cap=60.0) for n in range(1, 9)] == [
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]


def test_an_unreachable_webhook_keeps_the_update_and_says_why(world):
    result(world, "setWebhook", {"url": "http://127.0.0.1:9/hook"})  # nothing listens on 9

    wait_until(lambda: "last_error_message" in result(world, "getWebhookInfo"))

    info = result(world, "getWebhookInfo")
    assert result_errors("getWebhookInfo", info) == []
    assert info["last_error_message"] == "Connection refused"
    assert info["pending_update_count"] == 1  # Alice's /start, still waiting


def test_deleting_the_webhook_hands_the_backlog_to_get_updates(world):
    result(world, "setWebhook", {"url": "http://127.0.0.1:9/hook"})

    response = error(world, "getUpdates")
    assert response[0] == 409
    assert result(world, "deleteWebhook") is True

    [update] = result(world, "getUpdates")
    assert update["message"]["text"] == "/start"
    assert result(world, "getWebhookInfo") == {
        "url": "",
        "has_custom_certificate": False,
        "pending_update_count": 1,
    }
    result(world, "deleteWebhook", {"drop_pending_updates": True})
    assert result(world, "getUpdates") == []


def test_set_webhook_answers_with_telegrams_descriptions(world, receiver):
    body = {"url": receiver.url}
    first = world_call_body(world, "setWebhook", body)
    again = world_call_body(world, "setWebhook", body)
    deleted = world_call_body(world, "setWebhook", {"url": ""})

    assert (first["description"], again["description"]) == (
        "Webhook was set",
        "Webhook is already set",
    )
    assert deleted == {"ok": True, "result": True, "description": "Webhook was deleted"}


def world_call_body(world, method: str, params: dict) -> dict:
    from tests.sandbox.helpers import call

    response = call(world, method, params)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"url": "ftp://example.org/hook"},
            "Bad Request: bad webhook: An HTTPS URL must be provided for webhook",
        ),
        (
            {"url": "https://example.org/hook", "secret_token": "no spaces"},
            "Bad Request: secret token contains unallowed characters",
        ),
        (
            {"url": "https://example.org/hook", "secret_token": "x" * 257},
            "Bad Request: secret token is too long",
        ),
    ],
)
def test_set_webhook_refuses_what_telegram_refuses(world, params, description):
    assert error(world, "setWebhook", params) == (400, description)


def test_a_method_in_the_webhook_answer_is_carried_out(world, receiver):
    receiver.reply = {"method": "sendMessage", "chat_id": ALICE, "text": "pong"}

    result(world, "setWebhook", {"url": receiver.url})

    wait_until(lambda: world.sent(BOT_ID, chat_id=ALICE) != [])
    [message] = world.sent(BOT_ID, chat_id=ALICE)
    assert message["text"] == "pong"
    assert world.calls(BOT_ID, "sendMessage")[-1]["params"] == {"chat_id": ALICE, "text": "pong"}


def test_setting_a_webhook_ends_a_waiting_long_poll_with_409(world, receiver):
    [start] = result(world, "getUpdates")
    outcome: list = []

    def poll() -> None:
        outcome.append(
            error(world, "getUpdates", {"offset": start["update_id"] + 1, "timeout": 30})
        )

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.2)  # let the poll reach the server and park there
    result(world, "setWebhook", {"url": receiver.url})
    poller.join(10)

    assert outcome[0][0] == 409
    assert json.dumps(outcome[0]).count("webhook is active") == 1
