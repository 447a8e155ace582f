"""A bulk send to 20,000 people through the sandbox Telegram with Telegram's real default
flood limits (``Limits()``: 30 messages a second per bot), sent by the notifications
dispatcher of the bot runtime, interrupted twice on the way.

The community's bot is hosted by ``manage.py runbots --bot ID`` in a child process (the
runtime runs one dispatcher per hosted bot). At a third of the way it gets SIGTERM, the
graceful stop (in-flight sends finish and are recorded, claimed rows are given back), and
is started again; at two thirds SIGKILL, the hard kill: a send between "sending" and its
recorded result is marked ``uncertain`` once its lease runs out and is never resent, a
claimed row that never started goes out after its lease. Then it is started again and
finishes. The baseline is the ceiling itself, 30 msg/s, as the sandbox enforces it.

Figures, from the sandbox's own record of every Bot API call (``calls()``) and of every
message delivered (``sent()``):
- sustained rate: messages delivered / the time a dispatcher was sending (first to last
  send of each runtime process, summed; the restarts' gaps are printed apart, with the
  end-to-end rate including them);
- share of sendMessage requests answered 429;
- every recipient exactly once: duplicates, and recipients with no message (with the
  ``uncertain`` rows and whether the sandbox has them).
"""

from __future__ import annotations

import signal
import tempfile
import time
import urllib.request
from collections import Counter
from typing import Any

from bench.common import bot_token_for, goal, header, pick, platform_ready, quick, say
from bench.runtime_updates import RunBots, log_errors

CEILING = 30.0  # Telegram's ~30 messages a second per bot, as Limits() enforces it
GOAL_SHARE = 0.95
GOAL_429 = 0.01
FIRST_BOT = 500  # bot_token_for(n): this benchmark's bot
USER_BASE = 7_500_000_000


def _recipients(tg: Any, tenant: Any, bot_id: int, token: str, count: int) -> None:
    """``count`` people who started the bot: on the sandbox (a private chat each, so the
    bot may write to them) and as the tenant's notification recipients. The rows are what
    ``recipient_register`` leaves after a /start; written in bulk here, the seeding is not
    what is measured."""
    from django.utils import timezone

    from accounts.models import TelegramUser
    from notifications.models import Recipient

    for i in range(count):
        user_id = USER_BASE + i
        tg.add_user(user_id, f"Fan{i}", username=f"fan{i}")
        tg.send_message(bot_id, user_id, user_id, "/start")
    # Their /start updates are not this benchmark's subject: the runtime never sees them.
    url = f"{tg.base_url}/bot{token}/deleteWebhook?drop_pending_updates=true"
    with urllib.request.urlopen(url, timeout=10) as response:
        response.read()
    now = timezone.now()
    users = TelegramUser.objects.bulk_create(
        [
            TelegramUser(
                telegram_id=USER_BASE + i, first_name=f"Fan{i}", username=f"fan{i}", last_seen=now
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    Recipient.objects.bulk_create(
        [Recipient(tenant=tenant, user=u, chat_id=u.telegram_id, bot_id=bot_id) for u in users],
        batch_size=2000,
    )


def _statuses(bulk_id: int) -> Counter[str]:
    from django.db.models import Count

    from notifications.models import OutboxMessage

    rows = (
        OutboxMessage.objects.filter(broadcast_id=bulk_id).values("status").annotate(n=Count("id"))
    )
    return Counter({r["status"]: r["n"] for r in rows})


def _bulk_status(bulk_id: int) -> str:
    from notifications.models import Broadcast

    return Broadcast.objects.values_list("status", flat=True).get(pk=bulk_id)


def run() -> None:
    from history.services import SYSTEM
    from notifications.services import broadcast_create
    from sandbox.telegram import Limits, SandboxTelegram
    from tenancy.services import tenant_create

    count = pick(20_000, 100)
    every = 30.0 if not quick() else 5.0
    header(f"bulk_send: {count} recipients at Telegram's default flood limits, killed twice")
    platform_ready()
    tg = SandboxTelegram(limits=Limits())
    api_base = tg.start()
    token = bot_token_for(FIRST_BOT)
    tenant = tenant_create(
        slug="bench-bulk", name="Bench Bulk", domain="bulk.bench", bot_token=token
    )
    bot_id = tg.add_bot(token, username="bench_bulk_bot")["id"]
    say(f"  seeding {count} recipients (sandbox users who sent /start, recipient rows) ...")
    _recipients(tg, tenant, bot_id, token, count)
    bulk = broadcast_create(
        tenant=tenant,
        text="Season 2 starts today: new raids, bigger rewards. See you in the group!",
        idempotency_key="bench-bulk-send",
        actor=SYSTEM,
    )
    # Quick mode cannot wait a minute for the leases of the killed runtime's rows.
    env = {"NOTIFICATIONS_LEASE_SECONDS": "5"} if quick() else {}
    say(
        f"  dispatcher: manage.py runbots --bot {bot_id} (long polling, durable jobs on), "
        f"in-process rate limiter (no REDIS_URL); lease "
        f"{env.get('NOTIFICATIONS_LEASE_SECONDS', 'default')}; progress every {every:g} s"
    )
    log = tempfile.TemporaryFile()
    lives: list[list[float]] = []  # [started, stopped] per runtime process, monotonic
    events: list[str] = []
    runtime: RunBots | None = None

    def start() -> RunBots:
        child = RunBots(["--bot", str(bot_id)], api_base=api_base, log=log, **env)
        lives.append([time.monotonic(), float("inf")])
        child.start()
        return child

    try:
        runtime = start()
        deadline = time.monotonic() + count / 10 + 300
        plan = [(count // 3, signal.SIGTERM), (2 * count // 3, signal.SIGKILL)]
        last_report, last_sent = time.monotonic(), 0
        life_start = 0  # messages sent before the current runtime process started
        while True:
            statuses = _statuses(bulk.pk)
            done = statuses["sent"]
            now = time.monotonic()
            # Each stop hits a process that is sending (not one still starting up).
            if plan and done >= plan[0][0] and done - life_start >= 5:
                _, sig = plan.pop(0)
                stopped_at = time.monotonic()
                code = runtime.stop(sig)
                lives[-1][1] = time.monotonic()
                after = _statuses(bulk.pk)
                events.append(
                    f"{signal.Signals(sig).name} at {done} sent: exited {code} after "
                    f"{lives[-1][1] - stopped_at:.1f} s; left 'sending' (in flight): "
                    f"{after['sending']}"
                )
                say(f"  ... {events[-1]}; restarting")
                runtime = start()
                life_start = _statuses(bulk.pk)["sent"]
                continue
            if now - last_report >= every:
                rate = (done - last_sent) / (now - last_report)
                say(
                    f"  ... {done}/{count} sent ({rate:.1f} msg/s over the last "
                    f"{now - last_report:.0f} s); pending {statuses['pending']}, "
                    f"uncertain {statuses['uncertain']}"
                )
                last_report, last_sent = now, done
            if _bulk_status(bulk.pk) == "completed":
                break
            if now > deadline:
                raise RuntimeError(f"the bulk send did not complete: {dict(statuses)}")
            time.sleep(0.5)
        runtime.stop(signal.SIGTERM)
        lives[-1][1] = time.monotonic()
        runtime = None
        calls = tg.calls(bot_id, "sendMessage")
        delivered = tg.sent(bot_id)
    finally:
        if runtime is not None:
            runtime.kill()
        tg.stop()

    from notifications.conf import RateLimits
    from notifications.models import Broadcast, OutboxMessage

    bulk = Broadcast.objects.get(pk=bulk.pk)
    answered = Counter(call["status"] for call in calls)
    ok_times = sorted(call["ts"] for call in calls if call["status"] == 200)
    # Sustained: a sliding window lets a fresh sender put a whole window (30) out at once
    # and then one more per freed slot, so a process's steady rate from its first to its
    # last send is (sent - 30) / time, summed over the processes.
    steady_sent, steady_time = 0, 0.0
    lives_seen = []
    for started, stopped in lives:
        mine = [t for t in ok_times if started <= t <= stopped]
        refused = sum(1 for c in calls if c["status"] == 429 and started <= c["ts"] <= stopped)
        steady = max(len(mine) - int(CEILING), 0)
        span = mine[-1] - mine[0] if steady else 0.0
        if span > 0:
            steady_sent += steady
            steady_time += span
        lives_seen.append((len(mine), steady, span, refused))
    sustained = steady_sent / steady_time if steady_time else 0.0
    wall = ok_times[-1] - ok_times[0] if len(ok_times) > 1 else 0.0
    per_chat = Counter(m["chat"]["id"] for m in delivered)
    wanted = {USER_BASE + i for i in range(count)}
    duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
    strangers = sum(n for chat, n in per_chat.items() if chat not in wanted)
    lost = sorted(wanted - per_chat.keys())
    uncertain = list(
        OutboxMessage.objects.filter(broadcast=bulk, status="uncertain").values_list(
            "chat_id", flat=True
        )
    )
    uncertain_delivered = sum(1 for chat in uncertain if chat in per_chat)
    share_429 = answered[429] / max(len(calls), 1)

    for event in events:
        say(f"  {event}")
    say(f"  outbox rows of the bulk send: {dict(sorted(bulk.counts.items()))}")
    say(
        f"  sendMessage requests: {len(calls)}; answers {dict(sorted(answered.items()))}; "
        f"429: {share_429:.2%}"
    )
    for n, (sent_n, steady_n, span, refused) in enumerate(lives_seen, start=1):
        rate = f"{steady_n / span:.2f} msg/s" if span > 0 else "n/a"
        say(
            f"  runtime process {n}: {sent_n} sent in {span:.1f} s first to last, "
            f"(sent - {CEILING:.0f}) / time = {rate}; 429 answers {refused}"
        )
    # What the dispatcher allows itself: its bot window is widened by the margin.
    limits = RateLimits.from_settings()
    own = limits.per_bot_per_s / (1.0 + limits.margin)
    say(
        f"  the dispatcher's own window: {limits.per_bot_per_s:g} per {1 + limits.margin:g} s "
        f"(margin {limits.margin:g} s) = at most {own:.2f} msg/s ({own / CEILING:.1%} of the "
        "ceiling)"
    )
    say(
        f"  ceiling (the sandbox's limit, same run): {CEILING:.0f} msg/s; sustained while "
        f"sending: {sustained:.2f} msg/s ({sustained / CEILING:.1%}); end to end including "
        f"{len(lives) - 1} restarts: {len(ok_times)} in {wall:.1f} s = "
        f"{len(ok_times) / wall if wall else 0:.2f} msg/s"
    )
    say(
        f"  recipients {count}: delivered to {len(per_chat)}; duplicates {duplicates}; "
        f"no message {len(lost)}; to someone else {strangers}; uncertain rows "
        f"{len(uncertain)} (delivered per the sandbox: {uncertain_delivered}, not "
        f"delivered: {len(uncertain) - uncertain_delivered})"
    )
    errors = log_errors(log)
    log.close()
    if errors:
        say(f"  RUNTIME ERRORS logged: {len(errors)}; first: {errors[0]}")
    goal(
        f"sustained >= {GOAL_SHARE:.0%} of {CEILING:.0f} msg/s ({sustained:.2f} msg/s)",
        sustained >= GOAL_SHARE * CEILING,
    )
    goal(f"429 answers <= {GOAL_429:.0%} of requests ({share_429:.2%})", share_429 <= GOAL_429)
    unreported = [chat for chat in lost if chat not in set(uncertain)]
    if lost and not unreported:
        say(
            f"  the {len(lost)} without a message are rows the SIGKILL left 'sending': "
            "reported uncertain and not resent (at most once, as documented)"
        )
    goal(
        f"every recipient exactly once across SIGTERM and SIGKILL "
        f"(duplicates {duplicates}, lost {len(lost)}, of them uncertain "
        f"{len(lost) - len(unreported)})",
        duplicates == 0 and not lost and strangers == 0,
    )
    if duplicates or strangers or unreported:
        raise RuntimeError(
            f"delivery broke its guarantees: {duplicates} duplicates, {strangers} to others, "
            f"{len(unreported)} recipients without a message and not reported uncertain"
        )
