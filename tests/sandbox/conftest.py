"""Fixtures for the sandbox Telegram's own tests, on top of tests/sandbox_fixtures.py (``tg``,
the session's server emptied per test): a separate server with Telegram's real limits on a
manual clock, and a small world of bots, people and a group. helpers.py calls the Bot API
raw (httpx) or through python-telegram-bot and checks answers against the published spec."""

from __future__ import annotations

import pytest

from sandbox.telegram import Limits, ManualClock, SandboxTelegram
from tests.sandbox.helpers import ALICE, BOB, BOT_ID, CAROL, GROUP, OTHER_BOT_ID, OTHER_TOKEN, TOKEN


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def limited(sandbox, clock: ManualClock) -> SandboxTelegram:
    """A sandbox with Telegram's default flood limits on a clock the test moves."""
    return sandbox(Limits(), clock=clock)


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
