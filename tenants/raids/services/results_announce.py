"""The results of a settled raid, announced once: the group's summary (participants,
verified tasks, paid total, the top 10, the report's SHA-256 and where its CSV is) and
each participant's own result in private (points, tasks verified / unverifiable /
failed, amount).

Queued in the outbox in one transaction with ``results_sent_at`` and each
``notified_at``: the group's message under the key ``raid:<id>:results``, each
participant's under ``raid:<id>:result:<user>`` (``notifications.services.notify_users``,
one batch insert for ten thousand). A second call finds ``results_sent_at`` set and queues
nothing; one that died before committing queued nothing either."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.services import UserMessage, notify, notify_users
from raids.models import Participant, Raid
from raids.results import Tally, raid_get, tallies
from tenancy.models import Tenant
from tenancy.selectors import tenant_primary_domain
from wallet.currencies import amount_format

logger = logging.getLogger(__name__)

TOP = 10


@dataclass(frozen=True)
class Announced:
    group: bool  # the group's summary was queued (False: the group opted out)
    participants: int  # private results queued
    replayed: bool  # announced before: nothing queued


def report_path(raid: Raid) -> str:
    return f"/api/v1/raids/{raid.pk}/report.csv"


def _name(raid: Raid) -> str:
    return raid.title or f"the raid on @{raid.post_author_username}'s post"


def summary_text(
    *, tenant: Tenant, raid: Raid, rows: list[Participant], tally: dict[int, Tally]
) -> str:
    """The group's message: totals, the top 10 by payout then rank, the digest."""
    active = [p for p in rows if p.status == Participant.Status.ACTIVE]
    paid = sum(p.payout for p in active)
    verified = sum(tally.get(p.pk, Tally()).verified for p in rows)
    payees = sorted(
        (p for p in active if p.payout > 0), key=lambda p: (-p.payout, -p.points, p.joined_at, p.pk)
    )
    domain = tenant_primary_domain(tenant=tenant)
    where = f"https://{domain}{report_path(raid)}" if domain else report_path(raid)
    lines = [
        f"Results of {_name(raid)}",
        f"Participants: {len(rows)}; verified tasks: {verified}",
        f"Paid: {amount_format(paid, raid.currency)} to {len(payees)}; "
        f"back to the group: {amount_format(raid.pool_amount - paid, raid.currency)}",
    ]
    if payees:
        lines.append(f"Top {min(TOP, len(payees))}:")
        lines += [
            f"{n}. @{p.x_username}: {p.points} points, {amount_format(p.payout, raid.currency)}"
            for n, p in enumerate(payees[:TOP], start=1)
        ]
    lines += [f"Payout report (CSV): {where}", f"SHA-256: {raid.report_sha256}"]
    return "\n".join(lines)


def result_text(*, raid: Raid, participant: Participant, tally: Tally) -> str:
    """A participant's own result."""
    p, t = participant, tally
    if p.status == Participant.Status.EXCLUDED:
        return (
            f"Your result in {_name(raid)}: not counted (flagged by anti-fraud checks; the "
            "community's admins review flags)."
        )
    return (
        f"Your result in {_name(raid)}: {p.points} points; tasks verified "
        f"{t.verified}, unverifiable {t.unverifiable}, failed {t.failed}. "
        f"Reward: {amount_format(p.payout, raid.currency)}."
    )


def raid_results_announce(*, tenant: Tenant, raid: Raid, actor: Actor = SYSTEM) -> Announced:
    """Queue the group's summary and every participant's result of a settled raid, once."""
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.select_for_update().filter(pk=raid_get(raid_id=raid.pk).pk).get()
        if raid.results_sent_at is not None:
            return Announced(group=False, participants=0, replayed=True)
        if raid.status != Raid.Status.SETTLED:
            raise ServiceError(
                "results are announced once the raid is settled",
                code="raid_not_settled",
                status=409,
            )
        rows = list(Participant.objects.filter(raid=raid).order_by("id"))
        tally = tallies(raid=raid)
        group = notify(
            tenant=tenant,
            event="raid.result",
            chat_id=raid.chat_id,
            text=summary_text(tenant=tenant, raid=raid, rows=rows, tally=tally),
            idempotency_key=f"raid:{raid.pk}:results",
        )
        queued = notify_users(
            tenant=tenant,
            event="raid.reward",
            messages=[
                UserMessage(
                    telegram_id=p.user_id,
                    text=result_text(raid=raid, participant=p, tally=tally.get(p.pk, Tally())),
                    idempotency_key=f"raid:{raid.pk}:result:{p.user_id}",
                )
                for p in rows
            ],
        )
        now = timezone.now()
        Participant.objects.filter(raid=raid, notified_at__isnull=True).update(notified_at=now)
        raid.results_sent_at = now
        raid.save(update_fields=["results_sent_at"])
        history.record(
            action="raids.results_announced",
            actor=actor,
            tenant=tenant,
            target=("raid", raid.pk),
            data={"group": group is not None, "participants": queued},
        )
    logger.info(
        "raids.results_announced",
        extra={"tenant": tenant.slug, "raid_id": raid.pk, "participants": queued},
    )
    return Announced(group=group is not None, participants=queued, replayed=False)
