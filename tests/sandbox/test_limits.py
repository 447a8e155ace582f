"""Flood control with Telegram's default rates on a clock the test moves: about one
message a second per chat (bursts of 3), 20 a minute per group, 30 a second per bot,
1,000 a second for paid broadcasts; 429 with a whole-second retry_after otherwise; a user
who blocked the bot gets 403."""

from __future__ import annotations

import asyncio

import pytest
import telegram

from sandbox.telegram import Limits, ManualClock
from sandbox.telegram.errors import ApiError
from sandbox.telegram.limits import FloodControl
from tests.sandbox.helpers import ALICE, BOT_ID, GROUP, TOKEN, call, error, result


@pytest.fixture
def scene(limited):
    """The rate-limited sandbox with the bot in a group and 40 users who started it."""
    limited.add_bot(TOKEN, username="loop_bot")
    limited.add_group(GROUP, title="Fans")
    limited.set_member(GROUP, BOT_ID, "administrator")
    for user_id in range(100, 140):
        limited.add_user(user_id)
        limited.send_message(BOT_ID, user_id, user_id, "/start")
    return limited


def send(server, chat_id: int, **extra) -> int:
    return call(server, "sendMessage", {"chat_id": chat_id, "text": "hi", **extra}).status_code


def test_a_chat_takes_a_burst_of_three_then_one_message_a_second(scene, clock):
    assert [send(scene, 100) for _ in range(3)] == [200, 200, 200]

    assert error(scene, "sendMessage", {"chat_id": 100, "text": "hi"}) == (
        429,
        "Too Many Requests: retry after 3",
    )
    clock.advance(1.2)
    assert send(scene, 100) == 429
    clock.advance(1.8)  # three seconds after the burst
    assert send(scene, 100) == 200
    assert send(scene, 101) == 200  # other chats were never affected


def test_a_group_takes_twenty_messages_a_minute(scene, clock):
    for _ in range(20):
        assert send(scene, GROUP) == 200
        clock.advance(1)  # slow enough for the per-chat rule

    response = call(scene, "sendMessage", {"chat_id": GROUP, "text": "21st"})

    assert response.status_code == 429
    assert response.json()["parameters"] == {"retry_after": 40}  # the first leaves at 60 s
    clock.advance(40)
    assert send(scene, GROUP) == 200


def test_a_bot_takes_thirty_messages_a_second_across_chats(scene, clock):
    assert all(send(scene, user_id) == 200 for user_id in range(100, 130))

    assert error(scene, "sendMessage", {"chat_id": 130, "text": "hi"}) == (
        429,
        "Too Many Requests: retry after 1",
    )
    clock.advance(1)
    assert send(scene, 130) == 200


def test_paid_broadcasts_raise_the_bots_rate(scene, clock):
    assert all(send(scene, user_id) == 200 for user_id in range(100, 130))
    assert send(scene, 130) == 429

    paid = [send(scene, user_id, allow_paid_broadcast=True) for user_id in range(130, 140)]

    assert paid == [200] * 10
    assert send(scene, 100) == 429  # unpaid sends still wait for the window


def test_refused_sends_do_not_count(scene, clock):
    for _ in range(3):
        send(scene, 100)
    for _ in range(5):
        assert send(scene, 100) == 429
    clock.advance(3)
    assert [send(scene, 100) for _ in range(3)] == [200, 200, 200]


def test_edits_count_against_the_chat_but_not_the_bot(scene, clock):
    message_id = result(scene, "sendMessage", {"chat_id": 100, "text": "v0"})["message_id"]
    edits = [
        call(
            scene,
            "editMessageText",
            {"chat_id": 100, "message_id": message_id, "text": f"v{n}"},
        ).status_code
        for n in range(1, 4)
    ]
    assert edits == [200, 200, 429]
    # 29 more sends to other chats fit in the bot's 30: edits did not use any of it.
    assert all(send(scene, user_id) == 200 for user_id in range(101, 130))


def test_python_telegram_bot_sees_retry_after(scene):
    async def flood():
        async with telegram.Bot(TOKEN, base_url=f"{scene.base_url}/bot") as bot:
            for _ in range(3):
                await bot.send_message(ALICE_CHAT, "hi")
            await bot.send_message(ALICE_CHAT, "one too many")

    with pytest.raises(telegram.error.RetryAfter) as refused:
        asyncio.run(flood())
    assert refused.value.message == "Flood control exceeded. Retry in 3 seconds"
    statuses = [c["status"] for c in scene.calls(BOT_ID, "sendMessage")]
    assert statuses == [200, 200, 200, 429]  # the refused call is in the log too


ALICE_CHAT = 100


def test_a_user_who_blocked_the_bot_gets_nothing(scene):
    scene.block_bot(ALICE_CHAT, BOT_ID)

    assert error(scene, "sendMessage", {"chat_id": ALICE_CHAT, "text": "hi"}) == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    # Writing to the bot again unblocks it; the blocked attempt used no flood budget.
    scene.send_message(BOT_ID, ALICE_CHAT, ALICE_CHAT, "/start")
    assert [send(scene, ALICE_CHAT) for _ in range(3)] == [200, 200, 200]


def test_limits_off_lets_everything_through():
    flood = FloodControl(Limits.off(), ManualClock())
    for _ in range(5_000):
        flood.take(bot_id=1, chat_id=ALICE, is_group=False, is_send=True)


def test_retry_after_is_whole_seconds_and_at_least_one():
    clock = ManualClock()
    flood = FloodControl(Limits(per_bot_per_s=None, per_group_per_min=None, chat_burst=1), clock)
    flood.take(bot_id=1, chat_id=5, is_group=False, is_send=True)
    clock.advance(0.999)

    with pytest.raises(ApiError) as refused:
        flood.take(bot_id=1, chat_id=5, is_group=False, is_send=True)

    assert (refused.value.error_code, refused.value.retry_after) == (429, 1)
    clock.advance(0.001)
    flood.take(bot_id=1, chat_id=5, is_group=False, is_send=True)


def test_limits_are_per_bot():
    flood = FloodControl(Limits(), ManualClock())
    for bot_id in (1, 2):
        for _ in range(3):
            flood.take(bot_id=bot_id, chat_id=GROUP, is_group=True, is_send=True)
    with pytest.raises(ApiError):
        flood.take(bot_id=1, chat_id=GROUP, is_group=True, is_send=True)
