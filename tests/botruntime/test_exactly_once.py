"""An update's effect happens once even when the process dies inside its handler: it is
``received`` (with its JSON) until its handlers ran and what they buffered is written,
re-run by the next runtime once its lease runs out, never run twice while a live runtime
holds it, and given up after ``UPDATE_ATTEMPTS`` runs."""

from __future__ import annotations

import asyncio
import json
import operator
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, transaction
from django.db.models.functions import Now
from django_tenants.utils import tenant_context
from telegram import Update
from telegram.ext import CommandHandler, ContextTypes

import botruntime.runtime
from botruntime import batching
from botruntime.batching import WriteBehind
from botruntime.context import in_tenant_once, tenant_of
from botruntime.models import ProcessedUpdate
from botruntime.runtime import HandledUpdates, Runtime, _flush, collect_handlers
from botruntime.services import UPDATE_ATTEMPTS, updates_accept, updates_reclaim
from history.models import Entry
from history.services import record
from tests.botruntime.helpers import (
    process_running,
    runbots_env,
    sent,
    serve,
    wait_for_line,
)
from tests.helpers import until

PLATFORM_TOKEN = "690000004:AAHplatform-bot-token-for-exactly-once"
PLATFORM_BOT = 690000004


@contextmanager
def _runbots(env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """The platform bot's runtime (with ``/once``, no jobs) in a process of its own, once
    it has started."""
    command = ["runbots", "--no-jobs", "--bot", str(PLATFORM_BOT)]
    with process_running(["tests/botruntime/runbots_once.py", *command], env) as (process, lines):
        wait_for_line(lines, "bot runtime:")
        yield process


def _runtime_with(command: str, callback) -> Runtime:
    """A runtime (no jobs) whose bots have one more command."""
    return Runtime(
        jobs=False,
        poll_timeout=1,
        handlers=lambda: [*collect_handlers(), (CommandHandler(command, callback), 0)],
    )


def test_a_runtime_killed_inside_a_handler_runs_it_again_and_its_effect_happens_once(
    elsewhere, tg, person, tmp_path
):
    tg.add_bot(PLATFORM_TOKEN, username="once_bot")
    alice = person("alice")
    env = runbots_env(tg, PLATFORM_TOKEN, ONCE_MARKERS=str(tmp_path), BOT_UPDATE_LEASE_S="1")

    def row(update_id: int) -> dict:
        return elsewhere(
            lambda: ProcessedUpdate.objects.values("status", "attempts").get(
                bot_id=PLATFORM_BOT, update_id=update_id
            )
        )

    with _runbots(env) as first:
        update_id = tg.send_message(PLATFORM_BOT, alice, alice, "/once")["update_id"]
        until(lambda: list(tmp_path.glob("entered-*")))
        # Inside the handler: accepted (and confirmed to Telegram), not done.
        assert row(update_id) == {"status": "received", "attempts": 1}
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    (tmp_path / "go").touch()
    with _runbots(env) as second:
        until(lambda: tg.sent(PLATFORM_BOT, alice))
        time.sleep(2.5)  # more than two leases: a second run would have replied by now
        second.send_signal(signal.SIGINT)
        assert second.wait(timeout=30) == 0

    assert [m["text"] for m in tg.sent(PLATFORM_BOT, alice)] == ["once"]
    entries = elsewhere(
        lambda: Entry.objects.filter(action="test.once", target_id=str(update_id)).count()
    )
    assert entries == 1
    assert len(list(tmp_path.glob("entered-*"))) == 2  # the handler ran in both processes
    assert row(update_id) == {"status": "done", "attempts": 2}


async def on_slow(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await asyncio.sleep(3.5)
    await update.effective_message.reply_text("slow done")


def test_an_update_whose_handler_outlives_its_lease_is_not_run_again(
    bot_community, person, tg, settings
):
    settings.BOT_UPDATE_LEASE_S = 1.2  # renewed every 0.4 s while held
    _, bot_id = bot_community()
    alice = person("alice")
    runtime = _runtime_with("slow", on_slow)
    taken_by_another: list[list] = []

    async def scenario():
        tg.send_message(bot_id, alice, alice, "/slow")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.2  # well past the first lease
        while loop.time() < deadline:
            taken = await sync_to_async(updates_reclaim)(bot_ids=[bot_id])
            taken_by_another.append(taken)
            await asyncio.sleep(0.15)
        replies = await sent(tg, bot_id, alice)
        await asyncio.sleep(1.0)  # a second run would reply again
        return replies

    replies = serve(runtime, scenario)

    assert len(taken_by_another) >= 10 and all(t == [] for t in taken_by_another)
    assert [r["text"] for r in tg.sent(bot_id, alice)] == ["slow done"]
    assert replies[0]["text"] == "slow done"
    assert list(ProcessedUpdate.objects.values_list("status", "attempts")) == [("done", 1)]


def test_updates_a_dead_runtime_left_are_run_again_and_a_poisonous_one_is_given_up(
    bot_community, person, tg
):
    _, bot_id = bot_community()
    alice = person("alice")
    # Telegram's updates, accepted by a runtime that then died (the poller here sees
    # them too, as redeliveries).
    left = tg.send_message(bot_id, alice, alice, "/help")
    poisonous = tg.send_message(bot_id, alice, alice, "/profile")  # its runs all died
    for payload, attempts in ((left, 1), (poisonous, UPDATE_ATTEMPTS)):
        ProcessedUpdate.objects.create(
            bot_id=bot_id,
            update_id=payload["update_id"],
            status="received",
            payload=json.dumps(payload),
            lease_until=Now() - timedelta(seconds=1),
            attempts=attempts,
        )
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        replies = await sent(tg, bot_id, alice)
        await asyncio.sleep(0.5)  # the flush that records it done
        return replies

    [reply] = serve(runtime, scenario)

    assert reply["text"].startswith("Commands:")
    rows = {
        r["update_id"]: r
        for r in ProcessedUpdate.objects.values("update_id", "status", "attempts", "payload")
    }
    assert rows[left["update_id"]] == {
        "update_id": left["update_id"],
        "status": "done",
        "attempts": 2,
        "payload": None,
    }
    assert rows[poisonous["update_id"]]["status"] == "dropped"
    assert rows[poisonous["update_id"]]["payload"] is None


@pytest.fixture
def registry(monkeypatch):
    """Buffers made by a test stay out of the process-wide registry."""
    monkeypatch.setattr(batching, "_buffers", [])


def test_an_update_is_done_in_the_transaction_that_writes_its_buffered_counts(db, registry):
    written: list[dict] = []
    down = {"now": True}

    def apply(pending: dict) -> None:
        if down["now"]:
            raise OperationalError("could not connect to server")
        written.append(dict(pending))

    counts = WriteBehind("test.counts", apply, operator.add)
    updates_accept(updates=[(1, 10, "{}")])
    updates = HandledUpdates()
    updates.hold((1, 10))
    counts.add("alice", 1)  # what its handler buffered...
    updates.handled((1, 10))  # ...before it returned

    assert _flush(updates) == 0
    # Its count is not written: the update stays re-runnable, and held (leases renewed).
    assert ProcessedUpdate.objects.get(update_id=10).status == "received"
    assert updates.holding() == [(1, 10)] and len(updates) == 1

    down["now"] = False
    assert _flush(updates) == 1
    assert written == [{"alice": 1}]
    assert ProcessedUpdate.objects.get(update_id=10).status == "done"
    assert updates.holding() == [] and len(updates) == 0


async def on_append(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Appends an audit entry through ``in_tenant_once``, then says what the update's row
    says at that moment (a crash right here must not run the append again)."""
    tenant = await tenant_of(update, context)
    await in_tenant_once(tenant, update, record, action="test.append", target=("x", 1))
    row = ProcessedUpdate.objects.filter(update_id=update.update_id)
    status = await sync_to_async(lambda: row.values_list("status", flat=True).get())()
    await update.effective_message.reply_text(status)


def test_in_tenant_once_records_the_update_done_in_the_writes_transaction(
    bot_community, person, tg
):
    _, bot_id = bot_community()
    alice = person("alice")
    runtime = _runtime_with("append", on_append)

    async def scenario():
        tg.send_message(bot_id, alice, alice, "/append")
        return await sent(tg, bot_id, alice)

    [reply] = serve(runtime, scenario)

    assert reply["text"] == "done"  # before its handler returned
    assert Entry.objects.filter(action="test.append").count() == 1


def test_a_flush_whose_transaction_is_lost_leaves_its_updates_to_be_run_again(
    db, registry, monkeypatch
):
    written: list[dict] = []
    counts = WriteBehind("test.counts", lambda pending: written.append(dict(pending)), operator.add)
    updates_accept(updates=[(1, 11, "{}")])
    updates = HandledUpdates()
    updates.hold((1, 11))
    counts.add("alice", 1)
    updates.handled((1, 11))

    def lost(**kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(botruntime.runtime, "updates_done", lost)
    with pytest.raises(OperationalError):
        _flush(updates)

    # Its count went down with the transaction: the update is no longer held, so its lease
    # runs out and it is run again (counting again), instead of being marked done later.
    assert written == [{"alice": 1}] and len(counts) == 0
    assert updates.holding() == [] and len(updates) == 0
    assert ProcessedUpdate.objects.get(update_id=11).status == "received"


def test_an_update_still_held_is_not_queued_twice_when_its_renewal_came_late(
    bot_community, person, tg, settings, monkeypatch
):
    settings.BOT_UPDATE_LEASE_S = 0.3
    monkeypatch.setattr(botruntime.runtime, "updates_renew", lambda **kwargs: 0)  # always late
    _, bot_id = bot_community()
    alice = person("alice")
    runtime = _runtime_with("slow", on_slow)

    async def scenario():
        tg.send_message(bot_id, alice, alice, "/slow")
        await sent(tg, bot_id, alice)
        await asyncio.sleep(2.5)  # a second run would reply again

    serve(runtime, scenario)

    assert [r["text"] for r in tg.sent(bot_id, alice)] == ["slow done"]
    # This runtime took its own update back from the database (its lease ran out, again
    # and again: given up after UPDATE_ATTEMPTS), and ran only the copy it held.
    [(status, attempts)] = ProcessedUpdate.objects.values_list("status", "attempts")
    assert status in ("done", "dropped") and attempts > 1


def test_a_group_message_whose_count_died_with_its_runtime_is_counted_once_by_the_next(
    bot_community, person, tg, settings
):
    from community.models import ActivityDay
    from community.services import group_bind_on_bot_added

    settings.BOT_WRITE_BEHIND_S = 3600  # the count stays in memory until the "crash"
    settings.BOT_UPDATE_LEASE_S = 0.3
    owner, alice = person("owner"), person("alice")
    tenant, bot_id = bot_community(owner_telegram_id=owner)
    chat = tg.add_group(title="Fans")["id"]
    tg.set_member(chat, owner, "creator")
    tg.set_member(chat, alice, "member")
    tg.set_member(chat, bot_id, "administrator")
    group_bind_on_bot_added(
        tenant=tenant, bot_id=bot_id, chat_id=chat, title="Fans", added_by_telegram_id=owner
    )
    dead = Runtime(jobs=False, poll_timeout=1)

    def row() -> tuple[str, int]:
        return ProcessedUpdate.objects.values_list("status", "attempts").get()

    async def until_counted_in_memory():
        tg.send_message(bot_id, chat, alice, "gm everyone")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not any(len(b) for b in batching.buffers()) and loop.time() < deadline:
            await asyncio.sleep(0.02)
        # The process dies here. What the runtime writes from now on (its stop() flushes
        # the count and marks the update done) is rolled back below: it never happened.
        return await sync_to_async(transaction.savepoint)()

    death = serve(dead, until_counted_in_memory)
    transaction.savepoint_rollback(death)
    assert row() == ("received", 1)
    with tenant_context(tenant):
        assert not ActivityDay.objects.exists()  # the count died with it

    async def settle():
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (found := await sync_to_async(row)())[0] != "done" and loop.time() < deadline:
            await asyncio.sleep(0.05)  # its lease runs out, it is run again...
            await runtime_next.flush()  # ...and its count written with its done-mark
        return found

    runtime_next = Runtime(jobs=False, poll_timeout=1)
    assert serve(runtime_next, settle) == ("done", 2)
    with tenant_context(tenant):
        assert list(ActivityDay.objects.values_list("user_id", "messages")) == [(alice, 1)]
