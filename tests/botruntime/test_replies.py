"""Direct replies against a sandbox Telegram with its flood limits on (about one message
per second per chat, bursts of three): a burst of commands gets every answer, in order; a
retry_after beyond the bound is logged and dropped; requests outside a handler are not
retried (the notifications dispatcher reschedules its own)."""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from telegram import error as tg_error

from botruntime.models import ProcessedUpdate
from botruntime.runtime import Runtime
from tests.botruntime.helpers import sent, serve
from tests.helpers import tenant_bot_token

BURST = ["/start", "/help", "/profile", "/settings", "/leaderboard"]


@pytest.fixture
def limited_tg(sandbox, settings):
    """A sandbox Telegram of its own with Telegram's default flood limits."""
    from sandbox.telegram import Limits

    server = sandbox(Limits())
    settings.TELEGRAM_API_BASE = server.base_url
    return server


@pytest.fixture
def community_bot(make_tenant, limited_tg):
    tenant = make_tenant(name="Moon Fans")
    token = tenant_bot_token(tenant)
    limited_tg.add_bot(token, username="moon_fans_bot", first_name="Moon Fans")
    return tenant, int(token.split(":", 1)[0])


@pytest.fixture
def alice(limited_tg):
    limited_tg.add_user(6_100_000_001, "Alice", username="alice", language_code="en")
    return 6_100_000_001


@pytest.mark.parametrize("gap", [0.7, 0.0])
def test_a_burst_of_commands_gets_every_answer_in_order(limited_tg, community_bot, alice, gap):
    _, bot_id = community_bot
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        for command in BURST:
            limited_tg.send_message(bot_id, alice, alice, command)
            await asyncio.sleep(gap)
        replies = await sent(limited_tg, bot_id, alice, count=len(BURST), timeout=15)
        # Outside a handler (the dispatcher's sends) a 429 is the caller's to handle.
        bot = runtime.bots[bot_id].application.bot
        with pytest.raises(tg_error.RetryAfter):
            for _ in range(3):
                await bot.send_message(alice, "not a reply")
        return replies

    replies = serve(runtime, scenario)

    texts = [reply["text"] for reply in replies[: len(BURST)]]
    assert texts[0].startswith("Welcome to Moon Fans, Alice!")
    assert texts[1].startswith("Commands:")
    assert texts[2].startswith("Alice (@alice)")
    assert "notification" in texts[3].lower()
    assert "/leaderboard" in texts[4]
    # The sandbox did refuse some of them: they were sent again after retry_after.
    refused = [c for c in limited_tg.calls(bot_id, "sendMessage") if c["status"] == 429]
    assert refused, "the burst never met the flood limit: the test proves nothing"
    assert ProcessedUpdate.objects.filter(bot_id=bot_id, status="done").count() == len(BURST)


def test_a_retry_after_beyond_the_bound_is_logged_and_dropped(
    limited_tg, community_bot, alice, settings, caplog
):
    settings.BOT_REPLY_WAIT_MAX_S = 0.5  # the sandbox asks for whole seconds
    _, bot_id = community_bot
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        for _ in range(4):  # a burst of three fits; the fourth is refused
            limited_tg.send_message(bot_id, alice, alice, "/help")
        replies = await sent(limited_tg, bot_id, alice, count=3)

        def handled() -> int:
            return ProcessedUpdate.objects.filter(bot_id=bot_id, status="done").count()

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await sync_to_async(handled)() < 4 and loop.time() < deadline:
            await asyncio.sleep(0.05)
        return replies

    with caplog.at_level(logging.INFO, logger="botruntime.replies"):
        replies = serve(runtime, scenario)

    assert len(replies) == 3
    [dropped] = [r for r in caplog.records if r.getMessage() == "botruntime.reply_dropped"]
    assert dropped.retry_after >= 1 and dropped.chat_id == alice
    assert not [r for r in caplog.records if r.getMessage() == "botruntime.reply_retry_after"]
    # The update was handled (its handler failed): it is not run again.
    assert ProcessedUpdate.objects.filter(bot_id=bot_id, status="done").count() == 4


def test_a_reply_waiting_out_one_chats_limit_holds_up_only_that_chat(
    limited_tg, community_bot, alice
):
    _, bot_id = community_bot
    bob = 6_100_000_002
    limited_tg.add_user(bob, "Bob", username="bob", language_code="en")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        for _ in range(4):  # a burst of three fits; the fourth waits about a second
            limited_tg.send_message(bot_id, alice, alice, "/help")
        await sent(limited_tg, bot_id, alice, count=3)
        limited_tg.send_message(bot_id, bob, bob, "/help")
        await sent(limited_tg, bot_id, bob)
        await sent(limited_tg, bot_id, alice, count=4)

    serve(runtime, scenario)

    def delivered(chat_id: int) -> list[float]:
        calls = limited_tg.calls(bot_id, "sendMessage")
        return [
            c["ts"]
            for c in calls
            if c["status"] == 200 and str(c["params"].get("chat_id")) == str(chat_id)
        ]

    [to_bob] = delivered(bob)
    assert to_bob < delivered(alice)[-1]  # Bob was answered while Alice's reply waited
