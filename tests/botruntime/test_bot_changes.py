"""A runtime follows committed bot changes at once: tenancy NOTIFYs in the writer's
transaction (delivered at commit, dropped on a rollback) and the runtime's listener
refreshes its bots, instead of waiting for the minute refresh.

Committed data (``transaction=True``): a NOTIFY is delivered only when its transaction
commits."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from asgiref.sync import sync_to_async
from django.db import transaction

from botruntime.bot_changes import BotChanges
from botruntime.runtime import BOTS_REFRESH_EVERY, Runtime
from tenancy.services import bots_changed
from tests.botruntime.helpers import serve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def heard():
    """A running listener; ``heard`` is set on each notice it passes on."""
    event = threading.Event()
    listener = BotChanges(event.set)
    listener.start()
    assert listener.listening.wait(10)
    yield event
    listener.stop()
    assert not listener.is_alive()


def test_a_committed_change_is_heard_and_a_rolled_back_one_is_not(heard):
    with pytest.raises(RuntimeError), transaction.atomic():
        bots_changed()
        raise RuntimeError("rolled back")
    assert not heard.wait(1.5)
    with transaction.atomic():
        bots_changed()
    assert heard.wait(5)


def test_a_runtime_hosts_a_new_bot_without_waiting_for_its_refresh(bot_community):
    bot_community()  # a bot hosted from the start
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        before = set(runtime.bots)
        _, added = await sync_to_async(bot_community)()  # committed: its NOTIFY delivered
        started = time.monotonic()
        while added not in runtime.bots and time.monotonic() - started < 10:
            await asyncio.sleep(0.05)
        return before, added, time.monotonic() - started

    before, added, waited = serve(runtime, scenario)
    assert added not in before
    assert waited < 10 < BOTS_REFRESH_EVERY, "hosted only by the minute refresh"
