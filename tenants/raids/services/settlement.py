"""Settling a raid: its pool paid out by its formula in one wallet operation, the payout
report published with its SHA-256, each exactly once.

One transaction: the raid's row is locked first (a second settle waits, then finds it
settled and replays), then ``hold_settle`` locks the hold and the accounts (the wallet's
own order). ``hold_settle`` is keyed by the raid (``raid:<id>:settle``): if the wallet's
part ever committed without the raid's (a caller's transaction split, a restore), the
same payouts are recomputed (the formulas are deterministic) and the wallet replays
instead of paying again. A process killed anywhere in between leaves nothing: the
transaction rolls back and the next run settles from the start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from raids import payouts as formulas
from raids.models import Participant, Raid
from raids.results import Payee, payees, raid_get, report_csv, report_digest
from tenancy.models import Tenant
from wallet.models import Hold
from wallet.services.holds import Settlement, hold_settle
from wallet.services.ledger import accounts_get_or_create

logger = logging.getLogger(__name__)

SETTLEABLE = (Raid.Status.ACTIVE, Raid.Status.VALIDATING)


@dataclass(frozen=True)
class Settled:
    raid: Raid
    payees: int  # participants paid more than nothing
    paid: int  # minor units
    released: int  # back to the group
    report_sha256: str
    replayed: bool  # already settled: nothing moved


def settle_key(raid: Raid) -> str:
    return f"raid:{raid.pk}:settle"


_PAYOUTS_UPDATE = """
UPDATE {table} AS p SET payout = v.amount
  FROM unnest(%s::bigint[], %s::bigint[]) AS v (id, amount)
 WHERE p.id = v.id AND p.raid_id = %s
"""


def _payouts_write(raid: Raid, amounts: dict[int, int]) -> None:
    """The payees' payouts in one statement; everyone else's is 0 (only settlement writes
    the column, so the reset normally touches no row: cheaper than naming 10,000 ids)."""
    Participant.objects.filter(raid=raid, payout__gt=0).update(payout=0)
    paid = {pk: amount for pk, amount in amounts.items() if amount > 0}
    with connection.cursor() as cursor:
        cursor.execute(
            _PAYOUTS_UPDATE.format(table=connection.ops.quote_name(Participant._meta.db_table)),
            [list(paid), list(paid.values()), raid.pk],
        )


def _replayed(raid: Raid) -> Settled:
    paid = sum(Participant.objects.filter(raid=raid).values_list("payout", flat=True))
    count = Participant.objects.filter(raid=raid, payout__gt=0).count()
    return Settled(
        raid=raid,
        payees=count,
        paid=paid,
        released=raid.pool_amount - paid,
        report_sha256=raid.report_sha256,
        replayed=True,
    )


def _settleable(raid: Raid) -> None:
    if raid.status == Raid.Status.CANCELLED:
        raise ServiceError(
            "this raid was cancelled: its pool went back", code="raid_cancelled", status=409
        )
    if raid.status not in SETTLEABLE or raid.ends_at > timezone.now():
        raise ServiceError("this raid has not ended yet", code="raid_not_ended", status=409)


def _pay(
    tenant: Tenant, raid: Raid, rows: list[Payee], amounts: dict[int, int], actor: Actor
) -> Settlement:
    if raid.hold_id is None:
        raise ServiceError("this raid has no pool held", code="raid_without_hold", status=409)
    paid_rows = [row for row in rows if amounts[row.id] > 0]
    accounts = accounts_get_or_create(
        tenant=tenant,
        owner_kind="user",
        owner_ids=[row.user_id for row in paid_rows],
        currency=raid.currency,
        kind="available",
    )
    hold = Hold.objects.get(pk=raid.hold_id, tenant=tenant)
    # No payee (nobody joined, or nobody scored): an empty settlement, so the whole pool
    # goes back through the same keyed operation as any other outcome.
    return hold_settle(
        hold=hold,
        payouts=[(accounts[row.user_id], amounts[row.id]) for row in paid_rows],
        idempotency_key=settle_key(raid),
        actor=actor,
    )


def raid_settle(*, tenant: Tenant, raid: Raid, actor: Actor = SYSTEM) -> Settled:
    """Pay the raid's active participants by its formula from its hold, the rest back to
    the group, and publish the payout report; once (a settled raid replays)."""
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.select_for_update().get(pk=raid_get(raid_id=raid.pk).pk)
        if raid.status == Raid.Status.SETTLED:
            return _replayed(raid)
        _settleable(raid)
        rows = payees(raid=raid)
        amounts = formulas.compute(
            formula=raid.formula,
            params=raid.formula_params,
            pool=raid.pool_amount,
            entrants=[row.entrant() for row in rows],
        )
        settlement = _pay(tenant, raid, rows, amounts, actor)
        _payouts_write(raid, amounts)
        text = report_csv(raid=raid, rows=rows, amounts=amounts)
        digest = report_digest(text)
        raid.status, raid.settled_at = Raid.Status.SETTLED, timezone.now()
        raid.report_csv, raid.report_sha256 = text, digest
        raid.save(update_fields=["status", "settled_at", "report_csv", "report_sha256"])
        history.record(
            action="raids.raid_settled",
            actor=actor,
            tenant=tenant,
            target=("raid", raid.pk),
            data={
                "report_sha256": digest,
                "participants": len(rows),
                "payees": settlement.payouts,
                "paid": settlement.paid,
                "released": settlement.released,
                "currency": raid.currency,
                "hold_id": raid.hold_id,
                "replayed_hold": settlement.replayed,
            },
        )
    logger.info(
        "raids.raid_settled",
        extra={
            "tenant": tenant.slug,
            "raid_id": raid.pk,
            "payees": settlement.payouts,
            "paid": settlement.paid,
            "released": settlement.released,
        },
    )
    return Settled(
        raid=raid,
        payees=settlement.payouts,
        paid=settlement.paid,
        released=settlement.released,
        report_sha256=digest,
        replayed=False,
    )
