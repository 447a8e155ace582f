"""The raid of the demo under ``make run``: the demo group runs a funded raid on a fresh
post of the demo project's account on the sandbox X, and Alice (the sandbox Telegram's
person) has the sandbox X account ``@alice`` linked, so a newcomer can join as Alice
(``/start raid_<id>`` to the demo bot), repost the post as alice on the sandbox X page,
and hear from the bot, at the next validation pass, that the task is verified.

The sandboxes start empty on every run while the database keeps the last run's raid:
its post is gone, so an open demo raid is cancelled (its pool goes back) and a new one
made. Alice's X account keeps its id from run to run (as X keeps an account's id), so
her link stays valid."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from history.services import Actor
from raids.models import Raid
from raids.services.raids import raid_cancel, raid_create
from tenancy.models import Tenant
from wallet.services.ledger import account_get_or_create, transfer_post
from xclient.links import XAccount, link_create
from xclient.selectors import link_active

logger = logging.getLogger(__name__)

ACTOR = Actor.system("make-run")
DEMO_X_ALICE = "alice"
DEMO_X_ALICE_ID = "1650000000000000001"  # the same on every run
CURRENCY = "USDT"
POOL = 100_000_000  # 100 USDT in minor units
DURATION = timedelta(hours=2)
TASKS: list[dict[str, Any]] = [
    {"kind": "repost", "points": 10},
    {"kind": "like", "points": 5},
    {"kind": "reply", "points": 10, "params": {"min_length": 5}},
]
POST_TEXT = "Raid time! Repost, like and reply to this post to earn from the 100 USDT pool"


@dataclass(frozen=True)
class DemoRaid:
    raid: Raid
    post_url: str


def demo_alice_link(*, tenant: Tenant, x: Any, telegram_id: int) -> None:
    """``@alice`` on the sandbox X, linked to Alice (as linking through the bot leaves
    it) unless she already has a link."""
    x.add_account(DEMO_X_ALICE, name="Alice", account_id=DEMO_X_ALICE_ID)
    user, _ = TelegramUser.objects.get_or_create(
        telegram_id=telegram_id,
        defaults={"first_name": "Alice", "username": "alice", "last_seen": datetime.now(UTC)},
    )
    if link_active(user=user) is not None:
        return
    link_create(
        user=user,
        tenant=tenant,
        account=XAccount(
            x_user_id=int(DEMO_X_ALICE_ID),
            username=DEMO_X_ALICE,
            created_at=datetime.now(UTC) - timedelta(days=800),
            followers=120,
        ),
        via="code",
        confirmed=True,
    )


def _funds_ensure(tenant: Tenant, chat_id: int) -> None:
    """The group's wallet holds at least the pool (a sandbox deposit tops it up)."""
    group = account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=CURRENCY, kind="available"
    )
    missing = POOL - group.balance
    if missing <= 0:
        return
    external = account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency=CURRENCY, kind="external"
    )
    transfer_post(
        tenant=tenant,
        debit=external,
        credit=group,
        amount=missing,
        kind="deposit",
        idempotency_key=f"demo-raid-funds-{uuid.uuid4().hex}",
        metadata={"memo": "make run: the demo raid's pool"},
    )


def demo_raid_ensure(*, tenant: Tenant, x: Any, chat_id: int, project: str) -> DemoRaid:
    """A new funded raid in the demo group on a fresh post of ``project`` (the open raids
    of earlier runs cancelled: their posts are gone with the sandbox)."""
    with tenant_context(tenant):
        stale = list(
            Raid.objects.filter(
                chat_id=chat_id,
                status__in=[Raid.Status.SCHEDULED, Raid.Status.ACTIVE, Raid.Status.VALIDATING],
            )
        )
    for raid in stale:
        if raid.status != Raid.Status.VALIDATING:
            raid_cancel(tenant=tenant, raid=raid, actor=ACTOR)
    _funds_ensure(tenant, chat_id)
    post = x.post(project, POST_TEXT)
    post_url = f"https://x.com/{project}/status/{post['id']}"
    now = datetime.now(UTC)
    raid, _ = raid_create(
        tenant=tenant,
        chat_id=chat_id,
        post_url=post_url,
        tasks=TASKS,
        starts_at=now,
        ends_at=now + DURATION,
        currency=CURRENCY,
        pool_amount=POOL,
        formula="points",
        title="Demo raid",
        actor=ACTOR,
    )
    logger.info("devserver.demo_raid", extra={"raid_id": raid.pk, "post_id": post["id"]})
    return DemoRaid(raid=raid, post_url=post_url)
