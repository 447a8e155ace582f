"""botruntime.gate: a send's hook runs inside the HTTP client, after the request is built
and before the connection pool sees it; a hook that raises keeps the request in the
process; requests outside ``gated`` pass through; python-telegram-bot's client is gated
and stays gated after a restart."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import async_to_sync
from telegram import Bot

from botruntime.gate import GatedRequest, GatedTransport, gated


class Cancelled(Exception):
    pass


def _client(events: list[str]) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        events.append(f"sent {request.url.path} {request.content.decode()}")
        return httpx.Response(200, json={"ok": True})

    return httpx.AsyncClient(transport=GatedTransport(httpx.MockTransport(handler)))


def test_the_hook_runs_once_between_building_and_sending():
    events: list[str] = []

    async def scenario() -> None:
        async with _client(events) as client:
            await client.post("http://t/plain", content=b"a")

            async def hook() -> None:
                events.append("hook")

            async with gated(hook):
                await client.post("http://t/send", content=b"b")
                await client.post("http://t/after", content=b"c")  # the hook ran already
            await client.post("http://t/outside", content=b"d")

    asyncio.run(scenario())
    assert events == ["sent /plain a", "hook", "sent /send b", "sent /after c", "sent /outside d"]


def test_a_hook_that_raises_keeps_the_request_in_the_process():
    events: list[str] = []

    async def scenario() -> None:
        async def refuse() -> None:
            raise Cancelled

        async with _client(events) as client:
            with pytest.raises(Cancelled):
                async with gated(refuse):
                    await client.post("http://t/send", content=b"x")

    asyncio.run(scenario())
    assert events == []


def test_concurrent_sends_each_run_their_own_hook():
    events: list[str] = []

    async def scenario() -> None:
        async with _client(events) as client:

            async def one(name: str) -> None:
                async def hook() -> None:
                    await asyncio.sleep(0.01 if name == "a" else 0)
                    events.append(f"hook {name}")

                async with gated(hook):
                    await client.post(f"http://t/{name}", content=name.encode())

            await asyncio.gather(one("a"), one("b"))

    asyncio.run(scenario())
    assert sorted(events) == ["hook a", "hook b", "sent /a a", "sent /b b"]
    for name in "ab":
        assert events.index(f"hook {name}") < events.index(f"sent /{name} {name}")


def test_python_telegram_bot_sends_through_the_gate_even_after_a_restart(tg):
    token = "700999001:AAH-gate-test-token-for-bragabot-suite"
    tg.add_bot(token, username="gate_bot")
    tg.add_user(42, "Alice", username="alice")
    tg.send_message(700999001, 42, 42, "/start")
    bot = Bot(token, base_url=f"{tg.base_url}/bot", request=GatedRequest(connection_pool_size=4))
    seen_at_hook: list[int] = []

    async def hook() -> None:
        seen_at_hook.append(len(tg.calls(700999001, "sendMessage")))

    async def send(text: str) -> None:
        await bot.initialize()
        async with gated(hook):
            await bot.send_message(chat_id=42, text=text)
        await bot.shutdown()  # PTB builds a new HTTP client on the next initialize

    async_to_sync(send)("one")
    async_to_sync(send)("two")
    # At each hook the sandbox had not seen that send yet; afterwards it had.
    assert seen_at_hook == [0, 1]
    assert [m["text"] for m in tg.sent(700999001, 42)] == ["one", "two"]
