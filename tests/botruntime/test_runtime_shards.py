"""Runtime shards against the sandbox Telegram: two shards share the pooled bots (each bot
answered by exactly one, the one its hash names; the platform bot hashed like the
others), an isolated bot by neither but by a runtime started for it (``bot_ids``), a bot
placed in a workload of its own released by its shard; what each ``serve`` part runs;
two shards claiming one durable job queue without running a job twice."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from telegram import Update
from telegram.ext import CommandHandler, ContextTypes

from botruntime.models import Job
from botruntime.runtime import Runtime
from botruntime.services import job_enqueue
from botruntime.shards import Shard, shard_of
from notifications.services import outbox_enqueue
from tenancy.models import Bot, Tenant
from tests.botruntime.helpers import sent, serve, serve_together

PLATFORM_TOKEN = "690000010:AAHplatform-bot-token-for-shard-tests"
PLATFORM_BOT = 690000010


def answering_as(label: str):
    """Handlers that answer /whoami with ``label``: which runtime handled the update."""

    async def whoami(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_text(label)

    return lambda: [(CommandHandler("whoami", whoami), 0)]


def sharded(index: int, count: int = 2, **kwargs) -> Runtime:
    return Runtime(
        shard=Shard(index, count),
        jobs=False,
        poll_timeout=1,
        handlers=answering_as(f"shard {index}/{count}"),
        **kwargs,
    )


_ids = itertools.count(710_000_001)  # bot ids of this module's communities


def pooled_bots_on_both_shards(bot_community, *, each: int = 3) -> list[int]:
    """Communities whose bots put ``each`` on either of 2 shards (ids taken in order,
    those of a shard already full skipped): both shards have work."""
    bots: list[int] = []
    while len(bots) < 2 * each:
        bot_id = next(_ids)
        if sum(shard_of(b, 2) == shard_of(bot_id, 2) for b in bots) < each:
            token = f"{bot_id}:AAHshard-test-bot-token-{bot_id:012d}"
            bots.append(bot_community(bot_token=token)[1])
    return bots


def isolate(bot_id: int) -> None:
    Bot.objects.filter(telegram_id=bot_id).update(placement=Bot.Placement.ISOLATED)


def test_two_shards_answer_every_pooled_bot_exactly_once_and_the_isolated_bot_never(
    bot_community, person, tg, settings
):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    pooled = [*pooled_bots_on_both_shards(bot_community), PLATFORM_BOT]
    _, isolated = bot_community(name="Own Workload")
    isolate(isolated)
    alice = person("alice")
    shards = [sharded(0), sharded(1)]
    own = Runtime(bot_ids=[isolated], jobs=False, poll_timeout=1, handlers=answering_as("own"))

    async def scenario():
        hosted = [sorted(runtime.bots) for runtime in shards]
        for bot in [*pooled, isolated]:
            tg.send_message(bot, alice, alice, "/whoami")
        for bot in pooled:
            await sent(tg, bot, alice)
        await asyncio.sleep(1.5)  # more than a poll: a second answer would have come
        answers = {bot: tg.sent(bot, alice) for bot in pooled}
        unanswered = tg.sent(isolated, alice)
        untouched = not tg.calls(isolated, "getMe") and not tg.calls(isolated, "getUpdates")
        # The isolated bot's own workload (runbots --bot ID) answers what was waiting.
        await own.start()
        try:
            [by_own] = await sent(tg, isolated, alice)
        finally:
            await own.stop()
        return hosted, answers, unanswered, untouched, by_own

    hosted, answers, unanswered, untouched, by_own = serve_together(shards, scenario)

    assert {bot: [m["text"] for m in replies] for bot, replies in answers.items()} == {
        bot: [f"shard {shard_of(bot, 2)}/2"] for bot in pooled
    }
    assert unanswered == [] and untouched  # neither shard so much as asked Telegram for it
    assert by_own["text"] == "own"
    assert hosted == [
        sorted(b for b in pooled if shard_of(b, 2) == 0),
        sorted(b for b in pooled if shard_of(b, 2) == 1),
    ]


def test_a_shard_follows_placement_and_new_bots_of_its_share(bot_community, tg):
    bots = pooled_bots_on_both_shards(bot_community, each=2)
    mine = [b for b in bots if shard_of(b, 2) == 0]
    runtime = sharded(0)

    async def scenario():
        before = sorted(runtime.bots)
        # Moved to a workload of its own (the provisioner's): the shard lets it go.
        await sync_to_async(isolate)(mine[0])
        later = await sync_to_async(pooled_bots_on_both_shards)(bot_community, each=1)
        await runtime.refresh_bots()
        return before, later, sorted(runtime.bots)

    before, later, after = serve(runtime, scenario)

    assert before == sorted(mine)
    assert after == sorted([*mine[1:], *(b for b in later if shard_of(b, 2) == 0)])


def test_the_platform_bot_is_hashed_like_any_other_unless_a_row_isolates_it(db, tg, settings):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    tg.add_bot(PLATFORM_TOKEN, username="bragabot")
    mine = shard_of(PLATFORM_BOT, 2)
    ours, other = sharded(mine), sharded(1 - mine)

    async def scenario():
        hosted = [sorted(ours.bots), sorted(other.bots)]
        # Its own workload from now on: a row (without a token: that stays in the
        # settings) placing it isolated.
        public = await sync_to_async(Tenant.objects.get)(schema_name="public")
        await sync_to_async(Bot.objects.create)(
            tenant=public, telegram_id=PLATFORM_BOT, placement=Bot.Placement.ISOLATED
        )
        await ours.refresh_bots()
        return hosted, sorted(ours.bots)

    hosted, after = serve_together([ours, other], scenario)

    assert hosted == [[PLATFORM_BOT], []]
    assert after == []


def test_serving_only_dispatch_sends_the_outbox_without_taking_updates(bot_community, person, tg):
    tenant, bot = bot_community()
    alice = person("alice")
    outbox_enqueue(
        tenant=tenant, bot_id=bot, chat_id=alice, event="announcement", text="hello",
        idempotency_key="shards-dispatch",
    )  # fmt: skip
    tg.send_message(bot, alice, alice, "/help")
    updates_only = Runtime(serve=["updates"], poll_timeout=1)
    dispatch_only = Runtime(serve=["dispatch"])

    async def without_dispatch():
        [reply] = await sent(tg, bot, alice)
        await asyncio.sleep(1.0)  # a dispatcher would have sent the outbox by now
        return reply, tg.sent(bot, alice)

    async def with_dispatch():
        return await sent(tg, bot, alice, count=2)

    reply, after_updates = serve(updates_only, without_dispatch)
    time.sleep(1.2)  # the sandbox records a long poll when it ends (poll_timeout=1)
    polls = len(tg.calls(bot, "getUpdates"))
    both = serve(dispatch_only, with_dispatch)

    assert reply["text"].startswith("Commands:") and after_updates == [reply]
    assert [m["text"] for m in both] == [reply["text"], "hello"]
    assert len(tg.calls(bot, "getUpdates")) == polls  # the dispatch runtime never polled
    assert (updates_only.jobs, dispatch_only.jobs) == (False, False)


def test_serving_only_jobs_hosts_no_bot(bot_community, tg, job_kind, tenant):
    _, bot = bot_community()
    calls = job_kind("test.shards.jobs")
    job_enqueue(kind="test.shards.jobs", payload={"n": 1})
    runtime = Runtime(serve=["jobs"], job_threads=0, job_tick=0.05, job_kinds=["test.shards.jobs"])

    async def scenario():
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return sorted(runtime.bots)

    assert serve(runtime, scenario) == []
    assert calls == [{"tenant": None, "payload": {"n": 1}, "schema": "public"}]
    assert not tg.calls(bot, "getMe")


def test_serve_names_only_known_parts():
    with pytest.raises(ValueError, match="serve is some of updates, dispatch, jobs"):
        Runtime(serve=["updates", "cron"])
    with pytest.raises(ValueError, match="serve is some of"):
        Runtime(serve=["jobs"], jobs=False)


def test_two_shards_share_one_job_queue_and_run_each_job_once(elsewhere, job_kind):
    ran: list[tuple[int, str]] = []
    lock = threading.Lock()

    def record(*, tenant, payload) -> None:
        time.sleep(0.05)  # 40 of them take one shard's 2 threads a second: both get some
        with lock:
            ran.append((payload["n"], threading.current_thread().name))

    job_kind("test.shards.shared", record)
    ids = elsewhere(lambda: [job_enqueue(kind="test.shards.shared", payload={"n": n}).pk
                             for n in range(40)])  # fmt: skip
    shards = [
        Runtime(
            shard=Shard(index, 2),
            serve=["jobs"],
            job_threads=2,
            job_tick=0.02,
            job_kinds=["test.shards.shared"],
        )
        for index in (0, 1)
    ]

    async def scenario():
        deadline = time.monotonic() + 20
        while len(ran) < 40 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return await asyncio.to_thread(
            elsewhere,
            lambda: Counter(Job.objects.filter(pk__in=ids).values_list("locked_by", "status")),
        )

    outcome = serve_together(shards, scenario)

    assert sorted(n for n, _ in ran) == list(range(40))  # each job ran, once
    assert set(outcome) == {(runtime.worker[:100], "done") for runtime in shards}


def test_an_isolated_bots_workload_uses_the_token_its_secret_hands_it(bot_community, settings):
    [bot_id] = [bot_community(bot_token=f"{next(_ids)}:AAHisolated-db-token-xxxxxxxxxxx")[1]]
    isolate(bot_id)
    from_secret = f"{bot_id}:AAHrotated-secret-token-xxxxxxxxxx"
    settings.BOT_TOKEN = from_secret
    [(hosted, token, tenant)] = Runtime(bot_ids=[bot_id], jobs=False)._load_bots()
    assert (hosted, token) == (bot_id, from_secret) and not tenant.is_public
    # Another bot's token, or a bot the database does not know, is not taken from it.
    settings.BOT_TOKEN = "1:AAHsomeone-else-token-xxxxxxxxxxxxx"
    [(_, token, _)] = Runtime(bot_ids=[bot_id], jobs=False)._load_bots()
    assert token != settings.BOT_TOKEN
    settings.BOT_TOKEN = "799999999:AAHunknown-bot-token-xxxxxxxxxxxxx"
    assert Runtime(bot_ids=[799999999], jobs=False)._load_bots() == []
