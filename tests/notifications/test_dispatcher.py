"""The dispatcher against the sandbox Telegram, through python-telegram-bot over HTTP:
delivery and its record, Telegram's limits, 429 retry_after, 403, paid broadcasts."""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import time

import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from history.models import Entry
from history.services import Actor
from notifications.models import OutboxMessage, Recipient, Subscription
from notifications.services import (
    broadcast_create,
    notification_settings_update,
    notify,
)
from tests.helpers import on_sandbox
from tests.notifications.helpers import (
    dispatcher,
    fast_limits,
    group_with_bot,
    nothing_left,
    refused,
    run_until,
    sends,
    started_bot,
)

pytestmark = pytest.mark.django_db


def _note(tenant, user, key, text="hello", event="deposit.received", **kwargs):
    return notify(tenant=tenant, event=event, text=text, user=user, idempotency_key=key, **kwargs)


def _fans(tg, tenant, person, prefix: str, count: int, *, noted: bool = False) -> list:
    """``count`` recipients who started the bot; ``noted``: each with one message queued."""
    users = [person(tenant, f"{prefix}{i}") for i in range(count)]
    for user in users:
        started_bot(tg, tenant, user)
        if noted:
            _note(tenant, user, f"{prefix}{user.pk}")
    return users


def test_messages_are_delivered_once_and_their_delivery_recorded(tenant, person, sandbox, group):
    limits, rates = fast_limits()
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    alice, bob = person(tenant, "alice"), person(tenant, "bob")
    chat = group(tenant)
    for user in (alice, bob):
        started_bot(tg, tenant, user)
    group_with_bot(tg, tenant, chat)
    button = {"inline_keyboard": [[{"text": "Open", "url": "https://example.org/"}]]}
    _note(tenant, alice, "a", "<b>5 TON</b> received", options={"parse_mode": "HTML"})
    _note(tenant, bob, "b", "quiet", options={"reply_markup": button, "disable_notification": True})
    notify(tenant=tenant, event="raid.created", text="Raid!", chat_id=chat, idempotency_key="r")

    run_until([dispatcher(tg.base_url, tenant, rates)], nothing_left(bot))

    [to_alice] = tg.sent(bot, alice.telegram_id)
    assert to_alice["text"] == "5 TON received"
    assert to_alice["entities"] == [{"type": "bold", "offset": 0, "length": 5}]
    [to_bob] = tg.sent(bot, bob.telegram_id)
    assert to_bob["reply_markup"] == button
    [call] = sends(tg, bot, bob.telegram_id)
    assert call["params"]["disable_notification"] == "true"
    assert [m["text"] for m in tg.sent(bot, chat)] == ["Raid!"]
    for row in OutboxMessage.objects.filter(tenant=tenant):
        assert (row.status, row.attempts, row.lease_owner) == ("sent", 1, None)
        assert row.sent_at is not None and row.last_error == ""
        [message] = tg.sent(bot, row.chat_id)
        assert row.telegram_message_id == message["message_id"]


def test_limits_hold_under_load_without_a_single_429(tenant, person, sandbox, group):
    limits, rates = fast_limits(per_bot_per_s=8, per_group_per_min=3, per_chat_per_s=4)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "u", 10)
    chat = group(tenant)
    group_with_bot(tg, tenant, chat)
    for i, user in enumerate(users):
        _note(tenant, user, f"u{i}")
    _note(tenant, users[0], "again", text="again")  # one chat, twice
    for n in range(5):  # a group: 3 a minute
        notify(
            tenant=tenant,
            event="raid.created",
            text=f"raid {n}",
            chat_id=chat,
            idempotency_key=f"g{n}",
        )

    def group_waits_a_minute() -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM notifications_outboxmessage WHERE chat_id = %s "
                "AND status = 'pending' AND not_before > clock_timestamp() + interval '30s'",
                [chat],
            )
            return cursor.fetchone()[0] == 1

    def done() -> bool:
        private = OutboxMessage.objects.filter(tenant=tenant, chat_id__gt=0)
        return not private.exclude(status="sent").exists() and group_waits_a_minute()

    run_until([dispatcher(tg.base_url, tenant, rates, batch_size=8)], done)

    assert refused(tg, bot) == []
    assert [m["text"] for m in tg.sent(bot, users[0].telegram_id)] == ["hello", "again"]
    # The group's other two wait for its minute, in order, without being tried.
    assert [m["text"] for m in tg.sent(bot, chat)] == ["raid 0", "raid 1", "raid 2"]
    waiting = OutboxMessage.objects.filter(chat_id=chat, status="pending").order_by("id")
    assert [(m.text, m.attempts) for m in waiting] == [("raid 3", 0), ("raid 4", 0)]
    assert len(sends(tg, bot, chat)) == 3


def test_one_private_chat_gets_its_messages_no_faster_than_the_chat_limit(tenant, person, sandbox):
    """Telegram's ~1 message a second per chat holds in a private chat as in a group: its
    messages go out back to back only as fast as the chat's limit allows."""
    limits, rates = fast_limits(per_bot_per_s=30, per_chat_per_s=4)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    user = person(tenant)
    started_bot(tg, tenant, user)
    for n in range(4):
        _note(tenant, user, f"p{n}", text=f"message {n}")

    run_until([dispatcher(tg.base_url, tenant, rates)], nothing_left(bot))

    calls = sends(tg, bot, user.telegram_id)
    assert [c["status"] for c in calls] == [200] * 4, calls  # none refused by Telegram
    assert [m["text"] for m in tg.sent(bot, user.telegram_id)] == [f"message {n}" for n in range(4)]
    gaps = [b["ts"] - a["ts"] for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 1 / 4, gaps


def test_retry_after_pauses_the_chat_and_does_not_count_as_a_failure(tenant, person, sandbox):
    # Telegram is stricter than the dispatcher believes: one message per chat a second.
    limits, _ = fast_limits(per_chat_per_s=1)
    _, optimistic = fast_limits(per_chat_per_s=20)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    user = person(tenant)
    started_bot(tg, tenant, user)
    for n in range(2):
        _note(tenant, user, f"m{n}", text=f"message {n}")

    run_until([dispatcher(tg.base_url, tenant, optimistic)], nothing_left(bot))

    calls = sends(tg, bot)
    assert [c["status"] for c in calls].count(429) >= 1
    for before, after in itertools.pairwise(calls):
        if before["status"] == 429:  # retry_after is at least a second: nothing came sooner
            assert after["ts"] - before["ts"] >= 1.0, calls
    assert [m["text"] for m in tg.sent(bot, user.telegram_id)] == ["message 0", "message 1"]
    rows = OutboxMessage.objects.filter(tenant=tenant)
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}


def test_a_user_who_blocked_the_bot_is_marked_and_unsubscribed(tenant, person, sandbox):
    limits, rates = fast_limits()
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    quitter, fan = person(tenant, "quitter"), person(tenant, "fan")
    for user in (quitter, fan):
        started_bot(tg, tenant, user)
    tg.block_bot(quitter.telegram_id, bot)
    first = _note(tenant, quitter, "q1")
    second = _note(tenant, quitter, "q2", event="announcement")
    _note(tenant, fan, "f1")

    run_until([dispatcher(tg.base_url, tenant, rates)], nothing_left(bot))

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == "blocked" and "blocked" in first.last_error
    assert second.status == "cancelled"
    assert [c["status"] for c in sends(tg, bot, quitter.telegram_id)] == [403]
    recipient = Recipient.objects.get(tenant=tenant, user=quitter)
    assert recipient.status == "blocked" and recipient.blocked_at is not None
    off = dict(
        Subscription.objects.filter(tenant=tenant, chat_id=quitter.telegram_id).values_list(
            "event", "enabled"
        )
    )
    assert off and not any(off.values())
    assert {"deposit.received", "announcement", "alert.*"} <= set(off)
    entry = Entry.objects.get(tenant=tenant, action="notifications.recipient_blocked")
    assert (entry.actor_type, entry.actor_id) == ("bot", str(bot))
    assert entry.target_id == str(quitter.telegram_id)
    assert _note(tenant, quitter, "q3") is None  # nothing more is queued for them
    assert len(tg.sent(bot, fan.telegram_id)) == 1
    assert not Recipient.objects.filter(tenant=tenant, user=fan, status="blocked").exists()


def test_paid_broadcasts_go_past_the_free_rate_without_429s(tenant, person, sandbox):
    limits, rates = fast_limits(per_bot_per_s=2)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "p", 12)
    notification_settings_update(tenant=tenant, allow_paid_broadcast=True, actor=Actor.user(1))
    bulk = broadcast_create(
        tenant=tenant, text="Big news", idempotency_key="n", actor=Actor.user(1)
    )
    assert bulk.paid

    run_until([dispatcher(tg.base_url, tenant, rates)], nothing_left(bot))

    calls = sends(tg, bot)
    assert len(calls) == 12 and refused(tg, bot) == []
    assert all(c["params"]["allow_paid_broadcast"] == "true" for c in calls)
    times = sorted(c["ts"] for c in calls)
    # More than the free 2 a second went out within one second, and none was refused.
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) > 2
    assert sorted(m["chat"]["id"] for m in tg.sent(bot)) == sorted(u.telegram_id for u in users)


def test_server_errors_are_retried_with_backoff_and_sent_once(
    tenant, person, sandbox, faulty_proxy
):
    limits, rates = fast_limits(per_chat_per_s=20)  # the retries need not wait for the chat
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    user = person(tenant)
    started_bot(tg, tenant, user)
    proxy = faulty_proxy(tg.base_url, mode="5xx", failures=2)
    message = _note(tenant, user, "m")

    run_until([dispatcher(proxy.base_url, tenant, rates)], nothing_left(bot))

    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 3)  # two refusals, then delivered
    assert len(sends(tg, bot)) == 1  # Telegram itself saw the one that went through
    assert len(tg.sent(bot, user.telegram_id)) == 1


def test_a_send_whose_answer_was_lost_is_uncertain_and_not_resent(
    tenant, person, sandbox, faulty_proxy
):
    limits, rates = fast_limits()
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    user = person(tenant)
    started_bot(tg, tenant, user)
    proxy = faulty_proxy(tg.base_url, mode="drop", failures=1)
    message = _note(tenant, user, "m")

    run_until([dispatcher(proxy.base_url, tenant, rates)], nothing_left(bot))

    message.refresh_from_db()
    assert message.status == "uncertain" and message.last_error.startswith("NetworkError")
    # Telegram did deliver it: resending blindly would have sent it twice.
    assert len(tg.sent(bot, user.telegram_id)) == 1
    assert len(sends(tg, bot)) == 1


def test_a_user_who_never_started_the_bot_is_unreachable_but_keeps_their_choices(
    tenant, person, sandbox
):
    limits, rates = fast_limits()
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    user = person(tenant, "newcomer")
    tg.add_user(user.telegram_id, user.first_name, username=user.username)  # no /start
    message = _note(tenant, user, "n1")

    run_until([dispatcher(tg.base_url, tenant, rates)], nothing_left(bot))

    message.refresh_from_db()
    assert message.status == "blocked" and "initiate" in message.last_error
    assert Recipient.objects.get(tenant=tenant, user=user).status == "blocked"
    assert not Subscription.objects.filter(tenant=tenant).exists()  # nothing switched off
    entry = Entry.objects.get(tenant=tenant, action="notifications.recipient_unreachable")
    assert entry.data["unsubscribed"] == []


def test_a_send_held_up_by_the_database_is_counted_at_its_real_time(
    tenant, person, sandbox, monkeypatch
):
    from notifications import services
    from notifications.ratelimit import LocalLimiter

    limits, rates = fast_limits(per_bot_per_s=4)
    rates = dataclasses.replace(rates, margin=0.04)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "s", 6, noted=True)
    mark = services.outbox_mark_sending

    def slow_mark(**kwargs):  # a database that takes longer than half the margin
        time.sleep(0.05)
        return mark(**kwargs)

    monkeypatch.setattr(services, "outbox_mark_sending", slow_mark)

    class Counting(LocalLimiter):
        recounted = 0

        async def acquire(self, rules, pauses=(), *, release=""):
            Counting.recounted += bool(release)
            return await super().acquire(rules, pauses, release=release)

    run_until([dispatcher(tg.base_url, tenant, rates, limiter=Counting())], nothing_left(bot))

    assert Counting.recounted >= len(users)
    assert refused(tg, bot) == []
    assert sorted(m["chat"]["id"] for m in tg.sent(bot)) == sorted(u.telegram_id for u in users)


def test_free_sends_are_spread_out_in_claim_order_and_never_exceed_the_window(
    tenant, person, sandbox, monkeypatch
):
    from notifications import services

    limits, rates = fast_limits(per_bot_per_s=10, per_chat_per_s=1)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "w", 25)
    broadcast_create(tenant=tenant, text="Spread", idempotency_key="w", actor=Actor.user(1))
    claim, mark = services.outbox_claim, services.outbox_mark_sending
    in_hand_at_claims = []
    marked: list[int] = []
    recounted: list[int] = []
    granted: list[tuple[float, float]] = []  # (asked, answered) around each grant

    def recording_claim(**kwargs):
        in_hand_at_claims.append(spread._in_hand)
        return claim(**kwargs)

    def held_up_mark(**kwargs):
        # A busy machine: the database holds a send up past half the margin (here the
        # tenth, every run; under load, any). Those behind it wait for the same thread.
        marked.append(kwargs["message_id"])
        if len(marked) == 10:
            time.sleep(0.3)
        return mark(**kwargs)

    monkeypatch.setattr(services, "outbox_claim", recording_claim)
    monkeypatch.setattr(services, "outbox_mark_sending", held_up_mark)
    spread = dispatcher(tg.base_url, tenant, rates, batch_size=6)
    acquire = spread._acquire

    async def recording_acquire(row, *, release="", gated=True):
        if release:  # counted again at its real time, outside the gate's queue
            recounted.append(row.chat_id)
        return await acquire(row, release=release, gated=gated)

    spread._acquire = recording_acquire
    limiter = spread.limiter
    limiter_acquire = limiter.acquire

    async def recording_limiter(rules, pauses=(), *, release=""):
        # The limiter decides at one instant between the ask and the answer: bracketing
        # it keeps the thread scheduling of a busy machine out of the measured gaps.
        asked = time.monotonic()
        verdict = await limiter_acquire(rules, pauses, release=release)
        if verdict.ok:
            granted.append((asked, time.monotonic()))
        return verdict

    limiter.acquire = recording_limiter

    run_until([spread], nothing_left(bot))

    assert refused(tg, bot) == []
    calls = sends(tg, bot)
    sent_to = [int(c["params"]["chat_id"]) for c in calls]
    assert sorted(sent_to) == sorted(u.telegram_id for u in users)  # one each
    # Sends go out in the order they were claimed (expanded by recipient): the gate queues
    # them in that order. A send the database held up is counted again at its real time,
    # outside that queue (_Start), so it may go out after later ones: only those leave
    # the claim order.
    assert users[9].telegram_id in recounted
    in_order = [u.telegram_id for u in users if u.telegram_id not in recounted]
    assert [chat for chat in sent_to if chat not in recounted] == in_order
    times = [c["ts"] for c in calls]
    # Never more than the bot's limit within any second, as the sandbox counts them ...
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 10
    # ... and spread over the window (spacing 0.9 x 1.25 s / 10), not sent in bursts: the
    # limiter grants sends at least that far apart, and they arrive so, less the jitter
    # of an HTTP request here and there (a busy machine delays a few, never most).
    spacing = spread.spacing * (1.0 + rates.margin) / 10
    # Grant b's answer minus grant a's ask bounds the limiter's own gap from above.
    widest = [b[1] - a[0] for a, b in itertools.pairwise(granted)]
    assert min(widest) >= spacing - 1e-6, granted
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.median(gaps) >= spacing - 0.03, gaps
    # The next rows were claimed while the last ones were still being sent.
    assert any(n > 0 for n in in_hand_at_claims[1:]), in_hand_at_claims


def test_paid_broadcasts_are_not_spread_out(tenant):
    from notifications.services import Claimed

    d = dispatcher("http://127.0.0.1:9", tenant, fast_limits(per_bot_per_s=30)[1])

    def row(paid: bool) -> Claimed:
        return Claimed(1, tenant.pk, 42, None, "announcement", "x", {}, paid, 0, 1, None)

    free, _, _ = d._rules(row(False))
    paid, _, _ = d._rules(row(True))
    pace = [r for r in free if r.key.startswith("pace:")]
    assert [(r.limit, round(r.window, 4)) for r in pace] == [(1, round(0.9 * 1.25 / 30, 4))]
    assert not [r for r in paid if r.key.startswith("pace:")]
    assert [r.limit for r in paid if r.key.startswith("bot:")] == [1000]


def test_the_dispatcher_survives_a_failing_claim_and_a_failing_chat(
    tenant, person, sandbox, monkeypatch
):
    from notifications import services
    from notifications.ratelimit import LocalLimiter

    limits, rates = fast_limits()
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "f", 3, noted=True)
    claim, failures = services.outbox_claim, {"claim": 1, "limiter": 1}

    def flaky_claim(**kwargs):
        if failures["claim"]:
            failures["claim"] -= 1
            raise RuntimeError("claim failed")
        return claim(**kwargs)

    class FlakyLimiter(LocalLimiter):  # Redis went away for a moment
        async def acquire(self, rules, pauses=(), *, release=""):
            if failures["limiter"]:
                failures["limiter"] -= 1
                raise ConnectionError("limiter unreachable")
            return await super().acquire(rules, pauses, release=release)

    monkeypatch.setattr(services, "outbox_claim", flaky_claim)
    flaky = dispatcher(
        tg.base_url,
        tenant,
        rates,
        limiter=FlakyLimiter(),
        lease_seconds=1.0,  # the failed chat's row comes back after its lease
        idle_seconds=(0.05, 0.2),
    )

    run_until([flaky], nothing_left(bot))

    assert failures == {"claim": 0, "limiter": 0}
    assert sorted(m["chat"]["id"] for m in tg.sent(bot)) == sorted(u.telegram_id for u in users)
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_lone_429_pauses_the_bot_briefly_a_second_chat_refused_makes_it_bot_wide(tenant):
    from notifications.services import Claimed

    class Recording:
        def __init__(self):
            self.pauses = []

        async def pause(self, key, seconds):
            self.pauses.append((key.split(":")[0], seconds))

        async def aclose(self):
            return None

    limiter = Recording()
    d = dispatcher("http://127.0.0.1:9", tenant, fast_limits()[1], limiter=limiter)

    def row(chat_id: int) -> Claimed:
        return Claimed(1, tenant.pk, chat_id, None, "announcement", "x", {}, False, 0, 1, None)

    async def scenario():
        await d._on_retry_after(row(41), 3.0)  # alone: the chat waits, the bot only briefly
        await d._on_retry_after(row(42), 3.0)  # another chat within 2 s: the whole bot waits

    async_to_sync(scenario)()
    assert limiter.pauses == [("chat", 3.0), ("bot", 0.1), ("chat", 3.0), ("bot", 3.0)]


def test_a_send_is_marked_right_before_its_request_leaves_and_a_lost_lease_sends_nothing(
    tenant, person, sandbox, monkeypatch
):
    """The row becomes 'sending' inside the HTTP client, when the request is built and
    the sandbox has not seen it yet; a lease lost at that moment keeps the request home."""
    from botruntime.gate import GatedRequest
    from notifications import services

    limits, rates = fast_limits(per_bot_per_s=20)
    tg = sandbox(limits)
    bot = on_sandbox(tg, tenant)
    users = _fans(tg, tenant, person, "m", 4, noted=True)
    unlucky = OutboxMessage.objects.get(tenant=tenant, chat_id=users[0].telegram_id).pk
    mark = services.outbox_mark_sending
    seen: list[tuple[int, int, bool]] = []  # (row, sandbox sends to its chat, marked)
    events: list[str] = []
    do_request = GatedRequest.do_request

    async def built(self, url, method, request_data=None, *args, **kwargs):
        if url.endswith("/sendMessage"):
            events.append(f"built {request_data.parameters['chat_id']}")
        return await do_request(self, url, method, request_data, *args, **kwargs)

    monkeypatch.setattr(GatedRequest, "do_request", built)

    def watching_mark(**kwargs):
        row = OutboxMessage.objects.get(pk=kwargs["message_id"])
        events.append(f"mark {row.chat_id}")
        before = len(sends(tg, bot, row.chat_id))
        if row.pk == unlucky and not any(r == unlucky for r, _, _ in seen):
            seen.append((row.pk, before, False))
            return False  # as if the lease had run out and another dispatcher took it
        result = mark(**kwargs)
        seen.append((row.pk, before, result))
        return result

    monkeypatch.setattr(services, "outbox_mark_sending", watching_mark)
    run_until(
        [dispatcher(tg.base_url, tenant, rates, lease_seconds=0.5, housekeeping_seconds=0.1)],
        nothing_left(bot),
    )

    assert all(before == 0 for _, before, _ in seen)  # the mark always came first
    # ... and python-telegram-bot had built the request by then: at every mark, the
    # chat's requests built outnumber its marks so far.
    assert sum(e.startswith("mark") for e in events) == len(users) + 1
    for i, event in enumerate(events):
        if event.startswith("mark"):
            chat = event.split()[1]
            assert events[: i + 1].count(f"built {chat}") >= events[: i + 1].count(event)
    assert [r for r, _, ok in seen if not ok] == [unlucky]
    for user in users:
        assert len(sends(tg, bot, user.telegram_id)) == 1  # the refused start sent nothing
    assert set(OutboxMessage.objects.filter(tenant=tenant).values_list("status", flat=True)) == {
        "sent"
    }


def test_the_dispatcher_refuses_a_bot_whose_requests_are_not_gated(tenant):
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from notifications.dispatcher import Dispatcher
    from tests.helpers import tenant_bot_token

    plain = Bot(tenant_bot_token(tenant), request=HTTPXRequest())
    with pytest.raises(TypeError, match="GatedRequest"):
        Dispatcher(bot_id=1, bot=plain)
