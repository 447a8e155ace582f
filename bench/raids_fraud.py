"""raids anti-fraud: ``fraud_scan`` of one raid with 10,000 participants (quick: 400),
each with an X link, a verified repost and a verified reply. Seeded: 3 % of replies
copied from another's (case, emoji, URL and mention changes), 30 fresh accounts
completing seconds apart, 20 X accounts that moved between Telegram users, the rest
distinct texts from a 3,000-word vocabulary. Printed: the scan's wall and CPU time, the
flags by reason against what was seeded, and a second scan (idempotent: nothing new)."""

from __future__ import annotations

import random
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.common import bot_token_for, goal, header, pick, platform_ready, say

GOAL_CPU_S = 10.0


def run() -> None:
    from django_tenants.utils import tenant_context

    from accounts.models import TelegramUser
    from raids.models import Participant, Raid, Result, Task
    from raids.services.fraud import fraud_scan
    from tenancy.services import tenant_create
    from xclient.models import XLink

    header("raids_fraud: fraud_scan of one raid")
    platform_ready()
    n = pick(10_000, 400)
    copies, fresh, shared = n * 3 // 100, 30, 20
    rnd = random.Random(12)
    words = [f"w{i}" for i in range(3000)]
    tenant = tenant_create(
        slug="bench-fraud", name="Bench", domain="fraud.bench", bot_token=bot_token_for(1)
    )
    now = datetime.now(UTC)
    users = TelegramUser.objects.bulk_create(
        [
            TelegramUser(telegram_id=9_000_000 + i, first_name=f"u{i}", last_seen=now)
            for i in range(n + shared)
        ]
    )
    links = []
    for i in range(n):
        age = 3 if i < fresh else 400
        links.append(
            XLink(
                user=users[i],
                tenant=tenant,
                x_user_id=50_000_000 + i,
                username=f"x{i}",
                x_created_at=now - timedelta(days=age),
                followers=100,
                via="oauth",
                confirmed=True,
                linked_at=now - timedelta(days=10),
                refreshed_at=now,
            )
        )
    for j in range(shared):  # someone else had participant j+100's X account before
        links.append(
            XLink(
                user=users[n + j],
                tenant=tenant,
                x_user_id=50_000_000 + 100 + j,
                username=f"x{100 + j}",
                x_created_at=now - timedelta(days=400),
                followers=100,
                via="oauth",
                confirmed=True,
                linked_at=now - timedelta(days=200),
                refreshed_at=now - timedelta(days=100),
                unlinked_at=now - timedelta(days=100),
            )
        )
    XLink.objects.bulk_create(links)
    texts = [" ".join(rnd.choice(words) for _ in range(14)) for _ in range(n)]
    copied = rnd.sample(range(n // 2, n), copies)
    for k, i in enumerate(copied):  # originals: 150.., earlier posts than their copies
        texts[i] = f"@someone {texts[k + 150].upper()} 🚀 https://t.co/{k}"
    with tenant_context(tenant):
        raid = Raid.objects.create(
            chat_id=-1009000000001,
            post_id=1,
            post_url="https://x.com/project/status/1",
            post_author_id=1,
            post_author_username="project",
            status=Raid.Status.ACTIVE,
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
            currency="USDT",
            pool_amount=1,
            formula="points",
        )
        reply = Task.objects.create(raid=raid, kind="reply", points=10)
        repost = Task.objects.create(raid=raid, kind="repost", points=5, position=1)
        participants = Participant.objects.bulk_create(
            [
                Participant(
                    raid=raid,
                    user_id=9_000_000 + i,
                    x_user_id=50_000_000 + i,
                    x_username=f"x{i}",
                    joined_at=now,
                )
                for i in range(n)
            ]
        )
        results = []
        for i, participant in enumerate(participants):
            at = now - timedelta(seconds=2 * i if i < fresh else 60 * i)
            results.append(
                Result(
                    participant=participant,
                    task=repost,
                    status="verified",
                    verified_at=at,
                    checked_at=at,
                )
            )
            results.append(
                Result(
                    participant=participant,
                    task=reply,
                    status="verified",
                    verified_at=now,
                    checked_at=now,
                    evidence={"text": texts[i], "post_id": str(10**6 + i)},
                )
            )
        Result.objects.bulk_create(results, batch_size=5000)

    wall, cpu = time.perf_counter(), time.process_time()
    flags = fraud_scan(tenant=tenant, raid=raid)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    by_reason = Counter(flag.reason for flag in flags)
    say(f"  participants {n}, replies {n}, copies seeded {copies}")
    say(f"  fraud_scan: {wall:.2f} s wall, {cpu:.2f} s CPU (this process)")
    say("  flags: " + ", ".join(f"{reason} {count}" for reason, count in sorted(by_reason.items())))
    seeded = {"account_young": fresh, "burst": fresh, "reply_duplicate": copies, "x_shared": shared}
    say("  seeded: " + ", ".join(f"{reason} {count}" for reason, count in sorted(seeded.items())))
    again = time.perf_counter()
    second = fraud_scan(tenant=tenant, raid=raid)
    say(f"  second scan: {len(second)} new flags, {time.perf_counter() - again:.2f} s wall")
    found = dict(by_reason) == seeded
    goal("every seeded signal flagged, nothing else, nothing twice", found and not second)
    goal(f"fraud_scan CPU <= {GOAL_CPU_S:.0f} s", cpu <= GOAL_CPU_S)
