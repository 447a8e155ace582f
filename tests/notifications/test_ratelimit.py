"""The rate limiter's rules, in-process and in Redis: all-or-nothing acquisition, the
refusing key and its wait, pauses. No sleeping: only what is granted and refused."""

from __future__ import annotations

import asyncio

import pytest

from notifications.ratelimit import LocalLimiter, RedisLimiter, Rule
from tests.notifications.helpers import REDIS_URL, redis_limiter


@pytest.fixture(params=["local", "redis"])
def make_limiter(request):
    return LocalLimiter if request.param == "local" else redis_limiter


def run(coro):
    return asyncio.run(coro)


def test_a_window_grants_its_limit_then_refuses_with_a_wait(make_limiter):
    async def scenario():
        limiter = make_limiter()
        rule = Rule("bot:1", 3, 10.0)
        granted = [(await limiter.acquire([rule])).ok for _ in range(4)]
        refused = await limiter.acquire([rule])
        await limiter.aclose()
        return granted, refused

    granted, refused = run(scenario())
    assert granted == [True, True, True, False]
    assert not refused.ok and refused.key == "bot:1"
    assert 9.0 < refused.wait <= 10.0


def test_acquisition_is_all_or_nothing(make_limiter):
    async def scenario():
        limiter = make_limiter()
        bot = Rule("bot:1", 10, 10.0)
        chat = Rule("chat:1:5", 1, 10.0)
        first = await limiter.acquire([chat, bot])
        second = await limiter.acquire([chat, bot])  # the chat is full: the bot is not counted
        others = [
            (await limiter.acquire([Rule(f"chat:1:{n}", 1, 10.0), bot])).ok for n in range(10, 19)
        ]
        last = await limiter.acquire([Rule("chat:1:99", 1, 10.0), bot])
        await limiter.aclose()
        return first, second, others, last

    first, second, others, last = run(scenario())
    assert first.ok
    assert not second.ok and second.key == "chat:1:5"
    assert all(others)  # 1 + 9 = the bot's 10: the refused send took nothing
    assert not last.ok and last.key == "bot:1"


def test_a_pause_refuses_until_it_runs_out_and_only_grows(make_limiter):
    async def scenario():
        limiter = make_limiter()
        rule = Rule("bot:2", 100, 1.0)
        await limiter.pause("bot:2", 30)
        await limiter.pause("bot:2", 5)  # a shorter pause does not cut the longer one
        paused = await limiter.acquire([rule], ["chat:2:1", "bot:2"])
        other = await limiter.acquire([Rule("bot:3", 100, 1.0)], ["bot:3"])
        await limiter.aclose()
        return paused, other

    paused, other = run(scenario())
    assert not paused.ok and paused.key == "bot:2" and 29 < paused.wait <= 30
    assert other.ok


def test_two_redis_limiters_share_one_window():
    async def scenario():
        first = redis_limiter()
        second = RedisLimiter(REDIS_URL, prefix=first._prefix)
        rule = Rule("bot:7", 5, 10.0)
        grants = []
        for limiter in (first, second, first, second, first, second, first):
            grants.append((await limiter.acquire([rule])).ok)
        await first.aclose()
        await second.aclose()
        return grants

    assert run(scenario()) == [True] * 5 + [False, False]


def test_a_send_counted_again_gives_up_its_earlier_places(make_limiter):
    async def scenario():
        limiter = make_limiter()
        chat, bot = Rule("chat:1:1", 1, 10.0), Rule("bot:9", 2, 10.0)
        first = await limiter.acquire([chat, bot])
        again = await limiter.acquire([chat, bot], release=first.token)  # its own place
        other = await limiter.acquire([Rule("chat:1:2", 1, 10.0), bot])
        full = await limiter.acquire([Rule("chat:1:3", 1, 10.0), bot])
        # Released but refused: the earlier places are gone all the same (no send happened).
        refused = await limiter.acquire([Rule("chat:1:2", 1, 10.0), bot], release=other.token)
        await limiter.aclose()
        return first, again, other, full, refused

    first, again, other, full, refused = run(scenario())
    assert first.ok and first.token
    assert again.ok and again.token != first.token  # not refused by its own chat place
    assert other.ok
    assert not full.ok and full.key == "bot:9"  # 2 places: again and other, not 3
    assert refused.ok  # other's place released: there was room for it again
