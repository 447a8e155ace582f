"""Reads of a raid's results and rewards (selectors): each participant with the tally of
their tasks, the payout report (CSV) as settlement writes it, a user's rewards across raids.
Called inside the tenant's schema (the API's request, ``tenant_context`` elsewhere)."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from config.errors import ServiceError
from history.selectors import entry_list
from raids.models import Participant, Raid, Result
from raids.payouts import Entrant, ranked
from tenancy.models import Tenant
from wallet.currencies import amount_decimal, currencies
from wallet.models import Transfer

REPORT_COLUMNS = (
    "user_id",
    "x_username",
    "points",
    "verified_tasks",
    "amount",
    "amount_minor",
    "currency",
)


def raid_not_found(raid_id: object) -> ServiceError:
    return ServiceError(f"raid {raid_id} not found", code="raid_not_found", status=404)


def raid_get(*, raid_id: int) -> Raid:
    """A raid of this community; 404 ``raid_not_found`` otherwise (each community has its
    own table: another's ids name nothing here)."""
    raid = Raid.objects.filter(pk=raid_id).first()
    if raid is None:
        raise raid_not_found(raid_id)
    return raid


def _tally(status: str) -> Count:
    return Count("results", filter=Q(results__status=status))


def participants_with_tally(*, raid: Raid) -> QuerySet[Participant]:
    """The raid's participants (excluded ones too), each annotated with ``verified``,
    ``unverifiable``, ``failed`` and ``pending``: the counts of their results."""
    return Participant.objects.filter(raid=raid).annotate(
        verified=_tally(Result.Status.VERIFIED),
        unverifiable=_tally(Result.Status.UNVERIFIABLE),
        failed=_tally(Result.Status.FAILED),
        pending=_tally(Result.Status.PENDING),
    )


@dataclass(frozen=True)
class Tally:
    """A participant's results by status."""

    verified: int = 0
    unverifiable: int = 0
    failed: int = 0
    pending: int = 0


def tallies(*, raid: Raid) -> dict[int, Tally]:
    """Participant id → the tally of their results, in one query."""
    rows = (
        Result.objects.filter(participant__raid=raid)
        .values("participant_id", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["participant_id"], {})[row["status"]] = row["n"]
    return {pk: Tally(**found) for pk, found in counts.items()}


@dataclass(frozen=True)
class Payee:
    """An active participant at settlement: what the formulas and the report need."""

    id: int
    user_id: int
    x_username: str
    points: int
    tasks: int  # verified
    joined_at: datetime

    def entrant(self) -> Entrant:
        return Entrant(id=self.id, points=self.points, tasks=self.tasks, joined_at=self.joined_at)


def payees(*, raid: Raid) -> list[Payee]:
    """The raid's active participants (not excluded), ranked as the formulas rank them."""
    rows = (
        Participant.objects.filter(raid=raid, status=Participant.Status.ACTIVE)
        .annotate(tasks=_tally(Result.Status.VERIFIED))
        .values_list("id", "user_id", "x_username", "points", "tasks", "joined_at")
        .order_by()
    )
    found = {row[0]: Payee(*row) for row in rows}
    return [found[e.id] for e in ranked(p.entrant() for p in found.values())]


def report_csv(*, raid: Raid, rows: Iterable[Payee], amounts: dict[int, int]) -> str:
    """The payout report: one row per active participant in rank order, amounts in units
    and in minor units. Text with CRLF line ends (csv's), hashed as UTF-8."""
    exponent = currencies().get(raid.currency, 0)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REPORT_COLUMNS)
    for row in rows:
        amount = amounts.get(row.id, 0)
        writer.writerow(
            (
                row.user_id,
                row.x_username,
                row.points,
                row.tasks,
                amount_decimal(amount, exponent),
                amount,
                raid.currency,
            )
        )
    return buffer.getvalue()


def report_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rewards_of_user(*, user_id: int) -> QuerySet[Participant]:
    """A user's participations in this community's settled raids, with their raid."""
    return (
        Participant.objects.filter(user_id=user_id, raid__status=Raid.Status.SETTLED)
        .select_related("raid")
        .annotate(verified=_tally(Result.Status.VERIFIED))
    )


@dataclass(frozen=True)
class ReportCheck:
    """What ``report_verify`` found: the digests compared, and every disagreement."""

    stored: str  # Raid.report_sha256
    computed: str  # SHA-256 of Raid.report_csv
    recorded: str | None  # the digest in the audit entry raids.raid_settled
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def report_verify(*, tenant: Tenant, raid: Raid) -> ReportCheck:
    """Check a settled raid's published report against everything else that recorded the
    settlement: its SHA-256 against the stored one and the audit log's, its rows against
    the participants as they are now, its amounts against the wallet's transfers of the
    raid's hold. (Run inside the tenant's schema.)"""
    text = raid.report_csv
    computed = report_digest(text)
    entry = (
        entry_list(
            tenant=tenant, action="raids.raid_settled", target_type="raid", target_id=str(raid.pk)
        )
        .values_list("data", flat=True)
        .first()
    )
    recorded = entry.get("report_sha256") if entry else None
    problems = []
    if raid.status != Raid.Status.SETTLED or not raid.report_sha256:
        problems.append("the raid is not settled: no report was published")
    if computed != raid.report_sha256:
        problems.append(f"the report's SHA-256 is {computed}, the raid's is {raid.report_sha256}")
    if recorded != computed:
        problems.append(f"the report's SHA-256 is {computed}, the audit log's is {recorded}")
    rows = payees(raid=raid)
    paid = dict(Participant.objects.filter(raid=raid).values_list("id", "payout"))
    if report_csv(raid=raid, rows=rows, amounts=paid) != text:
        problems.append("the report differs from the participants' points and payouts now")
    by_user = {row.user_id: paid[row.id] for row in rows if paid[row.id] > 0}
    moved: dict[int, int] = {}
    for owner_id, amount in hold_payouts(tenant=tenant, hold_id=raid.hold_id):
        moved[owner_id] = moved.get(owner_id, 0) + amount
    if raid.hold_id is not None and moved != by_user:
        problems.append("the wallet's payouts of the raid's hold differ from the report")
    return ReportCheck(
        stored=raid.report_sha256, computed=computed, recorded=recorded, problems=problems
    )


def hold_payouts(*, tenant: Tenant, hold_id: int | None) -> list[tuple[int, int]]:
    """(payee owner id, amount) of each payout transfer of the tenant's hold (the
    transfers table is shared by every tenant)."""
    if hold_id is None:
        return []
    return list(
        Transfer.objects.filter(
            tenant=tenant, hold_id=hold_id, kind=Transfer.Kind.PAYOUT
        ).values_list("credit__owner_id", "amount")
    )
