"""Raid settlement (issue 12's "Settlement rate: >= 2,000 payouts/s" and the settlement
half of its CPU figure): ``raids.services.settlement.raid_settle`` on a raid of 10,000
participants (and one of 1,000), each with two verified tasks and points, formula
``points``: its wall time as payouts/s (median of a few runs) and this process's CPU
time (``time.process_time``: the Python side; PostgreSQL's own work is on the server).

Baseline in the same run, interleaved: the naive path, the same payouts (computed by the
same formula) each posted with the wallet's own ``transfer_post`` after its payee's
``account_get_or_create``: one transaction per payout."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import Stopwatch, goal, header, median, pick, platform_ready, say

GOAL_PAYOUTS_PER_S = 2_000.0
CURRENCY = "USDT"
CHAT_ID = -1_009_000_000_001
_raids = itertools.count(1)


class Scene:
    tenant: Any
    group: Any  # the group's available account


def setup() -> Scene:
    from django.conf import settings

    from tenancy.services import tenant_create
    from wallet.services import account_get_or_create, transfer_post

    settings.WALLET_CURRENCIES.setdefault(CURRENCY, 6)
    platform_ready()
    scene = Scene()
    scene.tenant = tenant_create(slug="bench-raids", name="Bench raids", domain="raids.bench")
    external = account_get_or_create(
        tenant=scene.tenant,
        owner_kind="tenant",
        owner_id=scene.tenant.pk,
        currency=CURRENCY,
        kind="external",
    )
    scene.group = account_get_or_create(
        tenant=scene.tenant,
        owner_kind="group",
        owner_id=CHAT_ID,
        currency=CURRENCY,
        kind="available",
    )
    transfer_post(
        tenant=scene.tenant,
        debit=external,
        credit=scene.group,
        amount=10**15,
        kind="deposit",
        idempotency_key="bench-raids-funds",
    )
    return scene


def raid_make(scene: Scene, participants: int) -> Any:
    """An ended raid of ``participants`` (two verified tasks each, 1 to 100 points), its
    pool held, as validation leaves it; payees numbered apart from every other raid's."""
    from django_tenants.utils import tenant_context

    from raids.models import Participant, Raid, Result, Task
    from wallet.services import hold_create

    n = next(_raids)
    pool = participants * 1_000_000
    hold = hold_create(
        tenant=scene.tenant,
        group_account=scene.group,
        amount=pool,
        reference=f"bench-raid-{n}",
        idempotency_key=f"bench-raid-{n}",
    )
    now = datetime.now(UTC)
    with tenant_context(scene.tenant):
        raid = Raid.objects.create(
            chat_id=CHAT_ID,
            post_id=n,
            post_url=f"https://x.com/project/status/{n}",
            post_author_id=1,
            post_author_username="project",
            status=Raid.Status.VALIDATING,
            starts_at=now - timedelta(hours=2),
            ends_at=now - timedelta(minutes=1),
            currency=CURRENCY,
            pool_amount=pool,
            hold_id=hold.pk,
            formula="points",
        )
        tasks = [
            Task.objects.create(raid=raid, kind=kind, points=points, position=i)
            for i, (kind, points) in enumerate((("repost", 10), ("like", 5)))
        ]
        base = n * 10_000_000
        people = Participant.objects.bulk_create(
            (
                Participant(
                    raid=raid,
                    user_id=base + i,
                    x_user_id=base + i,
                    x_username=f"raider{i}",
                    joined_at=now - timedelta(minutes=90, seconds=-i),
                    points=1 + (i * 7919) % 100,
                )
                for i in range(participants)
            ),
            batch_size=2000,
        )
        Result.objects.bulk_create(
            (
                Result(participant=p, task=t, status=Result.Status.VERIFIED)
                for p in people
                for t in tasks
            ),
            batch_size=4000,
        )
    return raid


def ours(scene: Scene, participants: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one raid_settle."""
    from raids.services.settlement import raid_settle

    raid = raid_make(scene, participants)
    cpu = time.process_time()
    with Stopwatch() as sw:
        done = raid_settle(tenant=scene.tenant, raid=raid)
    cpu = time.process_time() - cpu
    assert done.payees == participants and not done.replayed, done
    return sw.seconds, cpu


def naive(scene: Scene, participants: int) -> tuple[float, float]:
    """The same payouts, one ``account_get_or_create`` + ``transfer_post`` each."""
    from django_tenants.utils import tenant_context

    from raids import payouts
    from raids.results import payees
    from wallet.services import account_get_or_create, transfer_post

    raid = raid_make(scene, participants)
    cpu = time.process_time()
    with Stopwatch() as sw:
        with tenant_context(scene.tenant):
            rows = payees(raid=raid)
        amounts = payouts.compute(
            formula="points",
            params={},
            pool=raid.pool_amount,
            entrants=[row.entrant() for row in rows],
        )
        for row in rows:
            account = account_get_or_create(
                tenant=scene.tenant,
                owner_kind="user",
                owner_id=row.user_id,
                currency=CURRENCY,
                kind="available",
            )
            transfer_post(
                tenant=scene.tenant,
                debit=scene.group,
                credit=account,
                amount=amounts[row.id],
                kind="payout",
                idempotency_key=f"naive:{raid.pk}:{row.user_id}",
            )
    return sw.seconds, time.process_time() - cpu


def naive_runs(size: int, runs: int) -> int:
    """The naive path commits once per payout (about 70/s here): at 10,000 payouts one
    run takes minutes, so it runs once there."""
    return runs if size <= 1_000 else 1


def run() -> None:
    header("raid_settlement: raid_settle vs one transfer_post per payout")
    scene = setup()
    sizes = [pick(1_000, 50), pick(10_000, 200)]
    runs = pick(3, 1)
    say(f"  formula points, two verified tasks per participant, {runs} run(s) per size")
    for size in sizes:
        mine: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for n in range(runs):  # interleaved: both see the same machine
            mine.append(ours(scene, size))
            if n < naive_runs(size, runs):
                theirs.append(naive(scene, size))
        ours_rate = median([size / wall for wall, _ in mine])
        naive_rate = median([size / wall for wall, _ in theirs])
        ours_cpu = median([cpu for _, cpu in mine])
        naive_cpu = median([cpu for _, cpu in theirs])
        say(
            f"  raid_settle, {size} participants: {ours_rate:,.0f} payouts/s "
            f"(median wall {median([w for w, _ in mine]):.2f} s), "
            f"CPU {ours_cpu:.2f} s (process_time)"
        )
        say(
            f"  naive transfer_post per payout, {size} participants: {naive_rate:,.0f} payouts/s "
            f"(median wall {median([w for w, _ in theirs]):.2f} s of {len(theirs)} run(s)), "
            f"CPU {naive_cpu:.2f} s"
        )
        say(f"  raid_settle / naive, {size}: {ours_rate / naive_rate:.1f}x")
    goal(
        f"raid_settle >= {GOAL_PAYOUTS_PER_S:,.0f} payouts/s at {sizes[-1]} participants "
        f"({ours_rate:,.0f})",
        ours_rate >= GOAL_PAYOUTS_PER_S,
    )
