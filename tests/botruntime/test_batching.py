"""The runtime's hot-path batching: dedupe records of updates arriving together share one
statement (GroupCommit), handlers' counters and "seen" marks are written behind
(WriteBehind) and applied by the runtime, also when it stops; one tenant's failure (its
schema dropped or broken) is not another's, and a full buffer drops rather than grows."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import date

import pytest
from asgiref.sync import async_to_sync
from django.db import OperationalError, connection
from django_tenants.utils import tenant_context

from botruntime import batching
from botruntime.batching import GroupCommit, WriteBehind, WriterThreads, flush_all
from botruntime.models import ProcessedUpdate
from botruntime.runtime import Runtime
from botruntime.services import updates_accept
from community.models import ActivityDay, Group
from community.services.leaderboard import ACTIVITY, Activity
from notifications.models import Recipient
from notifications.services import SEEN_IN_GROUPS, recipient_register
from tenancy.services import tenant_delete
from tests.botruntime.helpers import bound_group, serve


@pytest.fixture
def registry(monkeypatch):
    """Buffers made by a test stay out of the process-wide registry."""
    monkeypatch.setattr(batching, "_buffers", [])


def test_items_submitted_together_are_written_in_one_batch():
    batches: list[list[int]] = []

    def write(items: list[int]) -> list[int]:
        batches.append(items)
        return [item * 10 for item in items]

    async def main() -> tuple[list[int], list[int]]:
        commit = GroupCommit(write, max_batch=30)
        together = await asyncio.gather(*(commit.submit(n) for n in range(50)))
        alone = [await commit.submit(99)]
        return together, alone

    together, alone = async_to_sync(main)()

    assert together == [n * 10 for n in range(50)] and alone == [990]
    assert batches == [list(range(30)), list(range(30, 50)), [99]]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_runs():
    down = {"now": True}

    def write(items: list[int]) -> list[bool]:
        if down["now"]:
            raise OperationalError("could not connect to server")
        return [True for _ in items]

    async def main() -> tuple[list[object], bool]:
        commit = GroupCommit(write)
        failed = await asyncio.gather(*(commit.submit(n) for n in range(3)), return_exceptions=True)
        down["now"] = False
        return failed, await commit.submit(4)

    failed, later = async_to_sync(main)()

    assert [type(f) for f in failed] == [OperationalError] * 3
    assert later is True


def test_with_threads_of_its_own_batches_are_written_side_by_side():
    """Two writer threads: a second batch goes out while the first is still being written
    (it would wait behind it on one thread), and every caller gets its own result."""
    both_writing = threading.Barrier(2, timeout=5)
    threads: set[str] = set()

    def write(items: list[int]) -> list[int]:
        threads.add(threading.current_thread().name)
        if 0 in items or 100 in items:
            both_writing.wait()  # raises BrokenBarrierError unless the other is in flight
        return [item + 1 for item in items]

    async def main() -> list[int]:
        commit = GroupCommit(write, writers=writers)
        first = asyncio.ensure_future(asyncio.gather(*(commit.submit(n) for n in range(3))))
        await asyncio.sleep(0.05)  # the first batch is in its writer, held at the barrier
        second = await asyncio.gather(*(commit.submit(n) for n in range(100, 103)))
        return [*await first, *second]

    writers = WriterThreads(2, name="accept-test")
    try:
        results = async_to_sync(main)()
    finally:
        writers.close()

    assert results == [1, 2, 3, 101, 102, 103]
    assert len(threads) == 2 and all(t.startswith("accept-test") for t in threads)


def test_with_threads_of_its_own_a_failed_batch_fails_only_its_callers():
    def write(items: list[int]) -> list[int]:
        if 13 in items:
            raise OperationalError("server closed the connection unexpectedly")
        return items

    async def main() -> tuple[list[object], list[int]]:
        commit = GroupCommit(write, writers=writers)
        failed = await asyncio.gather(commit.submit(13), commit.submit(14), return_exceptions=True)
        return failed, await asyncio.gather(commit.submit(15), commit.submit(16))

    exited: list[str] = []
    writers = WriterThreads(1, name="w", on_exit=lambda: exited.append("closed"))
    try:
        failed, later = async_to_sync(main)()
    finally:
        writers.close()

    assert [type(f) for f in failed] == [OperationalError] * 2
    assert later == [15, 16]
    assert exited == ["closed"]  # closing ran the thread's exit (its connection's close)


def test_updates_are_accepted_once_within_a_batch_and_across_batches(db):
    first, again = '{"update_id": 10}', '{"update_id": 10, "again": true}'
    assert updates_accept(
        updates=[(1, 10, first), (1, 11, None), (1, 10, again), (2, 10, None)]
    ) == [
        True,
        True,
        False,  # the same update twice in one batch: handled once
        True,  # another bot's numbering
    ]
    assert updates_accept(updates=[(1, 11, None), (1, 12, None)]) == [False, True]
    assert ProcessedUpdate.objects.count() == 4
    assert updates_accept(updates=[]) == []
    # Received, with the JSON of its first sighting, until its handlers are done.
    row = ProcessedUpdate.objects.get(bot_id=1, update_id=10)
    assert (row.status, row.payload, row.attempts) == ("received", first, 1)
    assert row.lease_until > row.received_at
    # Stored as text: JSON that jsonb refuses (a NUL escape) does not refuse its batch.
    assert updates_accept(updates=[(3, 1, '{"text": "a\\u0000b"}'), (3, 2, "{}")]) == [True, True]


def test_write_behind_merges_by_key_and_keeps_a_failed_batch(registry):
    written: list[dict] = []
    down = {"now": False}

    def apply(pending: dict) -> None:
        if down["now"]:
            raise OperationalError("could not connect to server")
        written.append(dict(pending))

    buffer = WriteBehind("test.counts", apply, lambda old, new: old + new)
    healthy = WriteBehind("test.healthy", written.append, lambda old, new: new)
    buffer.add("a", 1)
    buffer.add("b", 1)
    buffer.add("a", 2)
    down["now"] = True
    healthy.add("x", 7)
    assert flush_all() == 1  # the healthy buffer still flushes beside the failing one
    buffer.add("a", 4)  # arrives while the batch is out
    assert len(buffer) == 2
    down["now"] = False

    assert buffer.flush() == 2
    assert written == [{"x": 7}, {"a": 7, "b": 1}]
    assert buffer.flush() == 0


def test_the_runtime_writes_counts_and_members_behind_and_on_stop(
    bot_community, person, tg, settings
):
    settings.BOT_WRITE_BEHIND_S = 3600  # only the final flush of stop() writes
    tenant, bot_id = bot_community()
    owner, fan, quiet = person("olga"), person("fan"), person("quiet")
    chat_id = bound_group(tg, tenant, bot_id, owner, "Fans")
    for user in (fan, quiet):
        tg.set_member(chat_id, user, "member")
    recipient_register(tenant=tenant, user=_user(fan), bot_id=bot_id, private_chat=True)
    runtime = Runtime(bot_ids=[bot_id], jobs=False, poll_timeout=1)

    async def scenario() -> tuple[int, int]:
        for text in ("one", "two", "three"):
            tg.send_message(bot_id, chat_id, fan, text)
        tg.send_message(bot_id, chat_id, quiet, "hello")
        while tg.pending_updates(bot_id):
            await asyncio.sleep(0.02)
        deadline = asyncio.get_running_loop().time() + 10
        while len(ACTIVITY) < 2 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        return len(ACTIVITY), len(SEEN_IN_GROUPS)

    buffered, seen = serve(runtime, scenario)

    assert (buffered, seen) == (2, 2)  # held in memory while the runtime ran
    assert len(ACTIVITY) == 0 and len(SEEN_IN_GROUPS) == 0
    with tenant_context(tenant):
        counted = dict(ActivityDay.objects.values_list("user_id", "messages"))
    assert counted == {fan: 3, quiet: 1}
    # Only people the bot can reach are noted as the group's members.
    assert Recipient.objects.get(tenant=tenant, chat_id=fan).groups == [chat_id]
    assert not Recipient.objects.filter(tenant=tenant, chat_id=quiet).exists()


def _user(telegram_id: int):
    from accounts.services import user_touch

    return user_touch(profile={"id": telegram_id, "first_name": "Fan"})


# ---- one tenant's failure is not another's ---------------------------------------------
DAY = date(2026, 1, 5)


def _group(tenant, chat_id: int) -> int:
    with tenant_context(tenant):
        return Group.objects.create(chat_id=chat_id, title="Fans").pk


def _counted(tenant) -> list[tuple[int, int, int]]:
    with tenant_context(tenant):
        return list(ActivityDay.objects.values_list("user_id", "messages", "xp"))


@pytest.fixture
def activity():
    """The leaderboard's buffer, empty before and after the test."""
    ACTIVITY._take()
    ACTIVITY._in_flight = 0
    yield ACTIVITY
    ACTIVITY._take()
    ACTIVITY._in_flight = 0


def test_a_deleted_tenants_counts_are_dropped_and_the_others_still_written(
    make_tenant, activity, caplog
):
    alive, gone = make_tenant(), make_tenant()
    groups = {t.schema_name: _group(t, -100_500 - n) for n, t in enumerate((alive, gone))}

    def count(tenant, user_id: int) -> None:
        activity.add((tenant.schema_name, groups[tenant.schema_name], user_id, DAY), Activity(1, 2))

    for user_id in (7, 8):
        count(alive, user_id)
        count(gone, user_id)
    count(alive, 7)
    tenant_delete(tenant=gone, confirm=gone.slug)  # its schema is dropped
    dropped = activity.dropped

    with caplog.at_level(logging.WARNING, logger="botruntime.batching"):
        assert activity.flush() == 2
        # The gone tenant's bot may still count a message before it is released.
        count(gone, 9)
        count(alive, 9)
        assert activity.flush() == 1

    assert sorted(_counted(alive)) == [(7, 2, 4), (8, 1, 2), (9, 1, 2)]
    assert len(activity) == 0  # nothing kept for the dead tenant: memory does not grow
    assert activity.dropped - dropped == 3
    assert caplog.messages.count("botruntime.write_behind_dropped") == 1  # logged once


def test_a_schema_whose_write_fails_keeps_its_counts_and_the_others_are_written(
    make_tenant, activity, caplog
):
    healthy, broken = make_tenant(), make_tenant()
    groups = [_group(healthy, -100_600), _group(broken, -100_601)]
    with connection.cursor() as cursor:  # a schema left half-migrated, say
        cursor.execute(f'DROP TABLE "{broken.schema_name}".community_activityday')
    activity.add((healthy.schema_name, groups[0], 7, DAY), Activity(1, 1))
    activity.add((broken.schema_name, groups[1], 7, DAY), Activity(1, 1))

    with caplog.at_level(logging.WARNING, logger="botruntime.batching"):
        assert activity.flush() == 1

    assert _counted(healthy) == [(7, 1, 1)]
    assert list(activity._pending) == [(broken.schema_name, groups[1], 7, DAY)]  # tried again
    [failed] = [r for r in caplog.records if r.getMessage() == "botruntime.write_behind_failed"]
    assert failed.schema == broken.schema_name


def test_with_the_database_down_every_tenants_batch_is_kept(registry, monkeypatch):
    import tenancy.selectors

    def down(*args, **kwargs):
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(tenancy.selectors, "tenant_schemas_live", down)
    buffer = WriteBehind("test.tenants", down, lambda old, new: old + new, schema_of=lambda k: k[0])
    buffer.add(("t_a", 1), 1)
    buffer.add(("t_b", 1), 1)

    with pytest.raises(OperationalError):
        buffer.flush()

    assert dict(buffer._pending) == {("t_a", 1): 1, ("t_b", 1): 1}
    assert buffer.dropped == 0


def test_a_full_buffer_drops_new_keys_counts_them_and_logs_once(registry, caplog):
    written: list[dict] = []
    buffer: WriteBehind[str, int] = WriteBehind(
        "test.capped",
        lambda pending: written.append(dict(pending)),
        lambda a, b: a + b,
        max_pending=3,
    )

    with caplog.at_level(logging.WARNING, logger="botruntime.batching"):
        for key in "abcde":
            buffer.add(key, 1)
        buffer.add("a", 5)  # a key already held still merges
        assert (len(buffer), buffer.dropped) == (3, 2)
        assert caplog.messages.count("botruntime.write_behind_full") == 1

        def apply_while_adding(pending: dict) -> None:
            buffer.add("f", 1)  # the batch in flight still counts against the bound
            written.append(dict(pending))

        buffer._apply = apply_while_adding
        assert buffer.flush() == 3

    assert written == [{"a": 6, "b": 1, "c": 1}]
    assert buffer.dropped == 3
    assert "botruntime.write_behind_overflowed" in caplog.messages
    buffer.add("g", 1)  # room again once the batch is written
    assert len(buffer) == 1
