"""EXP contests: who earns the most EXP in a group between a start and an end wins
prizes by rank, paid from a wallet hold taken at creation.

EXP is the community leaderboard's daily XP (``community.models.ActivityDay``: message XP
plus the raid points ``raids.services.leaderboard`` awards), over the group's local days
the contest covers (``raids.selectors_giveaways.contest_days``). Before the final table
is read, the raids of the group settled within the contest have their points awarded
(once, whoever asks first), so raid points always count.

Ties (documented rule): users with equal EXP share a rank, and share equally the prizes
of every position they occupy together (two tied first take (1st + 2nd) / 2 each; the
next user is third). The integer remainder of a split, and prizes nobody reached,
go back to the group with the hold's remainder."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.models import TelegramUser
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.services.outbox import notify
from raids.models import Contest
from raids.selectors_giveaways import Standing, contest_standings, settled_raids_between
from raids.services.giveaways import hold_of, pool_cancel, pool_open
from raids.services.leaderboard import raid_points_award
from tenancy.models import Tenant
from tenancy.selectors import community_check
from wallet.services.holds import hold_cancel, hold_settle
from wallet.services.ledger import account_get_or_create

logger = logging.getLogger(__name__)

MAX_PRIZES = 100
MAX_TITLE = 120
# Daily XP is kept 35 days (community.services.leaderboard.KEEP_DAYS): a contest's days
# must all still be there when it settles.
MAX_DURATION = timedelta(days=31)
MAX_AHEAD = timedelta(days=90)
SETTLE_JOB = "raids.contest_settle"
STANDINGS_KEPT = 100
TIE_SCAN = 1000  # rows read to place ties past the last prize


def _invalid(message: str) -> ServiceError:
    return ServiceError(message, code="invalid", status=400)


def prizes_by_standing(prizes: list[int], standings: list[Standing]) -> dict[int, int]:
    """Each placed user's prize under the tie rule (module docstring)."""
    payouts: dict[int, int] = {}
    position = 0
    index = 0
    while index < len(standings) and position < len(prizes):
        group = [s for s in standings[index:] if s.xp == standings[index].xp]
        pot = sum(prizes[position : position + len(group)])
        share = pot // len(group)
        for standing in group:
            if share:
                payouts[standing.user_id] = share
        position += len(group)
        index += len(group)
    return payouts


def _announcement(contest: Contest) -> str:
    return (
        f"🏁 EXP contest #{contest.pk}: {contest.title}\n"
        f"From {contest.starts_at:%Y-%m-%d %H:%M} to {contest.ends_at:%Y-%m-%d %H:%M} UTC; "
        f"prizes {', '.join(str(p) for p in contest.prizes)} ({contest.currency} minor "
        "units). Messages and raid points count. Standings: /contest"
    )


def contest_create(
    *,
    tenant: Tenant,
    chat_id: int,
    title: str,
    currency: str,
    prizes: list[int],
    starts_at: datetime,
    ends_at: datetime,
    actor: Actor = SYSTEM,
    now: datetime | None = None,
) -> Contest:
    """Open an EXP contest: the prizes' sum escrowed (insufficient funds raise and
    nothing is created), the settlement scheduled at ``ends_at``, the group told."""
    community_check(tenant)
    now = now or timezone.now()
    if not title.strip() or len(title) > MAX_TITLE:
        raise _invalid(f"title: 1 to {MAX_TITLE} characters")
    if not prizes or len(prizes) > MAX_PRIZES:
        raise _invalid(f"prizes: 1 to {MAX_PRIZES} amounts, first place first")
    if any(not isinstance(p, int) or p < 1 for p in prizes):
        raise _invalid("prizes: positive amounts in minor units")
    if ends_at <= starts_at:
        raise _invalid("ends_at: after starts_at")
    if ends_at <= now:
        raise _invalid("ends_at: a time in the future")
    if ends_at - starts_at > MAX_DURATION:
        raise _invalid(f"a contest lasts {MAX_DURATION.days} days at most")
    if starts_at > now + MAX_AHEAD:
        raise _invalid(f"starts_at: within {MAX_AHEAD.days} days")
    total = sum(prizes)
    return pool_open(
        tenant=tenant,
        model=Contest,
        chat_id=chat_id,
        title=title,
        currency=currency,
        fields={
            "prizes": list(prizes),
            "starts_at": starts_at,
            "ends_at": ends_at,
            "status": Contest.Status.ACTIVE if starts_at <= now else Contest.Status.SCHEDULED,
        },
        audited=("prizes", "starts_at", "ends_at"),
        amount=total,
        then=(SETTLE_JOB, ends_at),
        actor=actor,
        announcement=_announcement,
    )


def _locked(contest_id: int) -> Contest:
    contest = Contest.objects.select_for_update().filter(pk=contest_id).first()
    if contest is None:
        raise ServiceError("no such contest", code="contest_not_found", status=404)
    return contest


def contest_settle(
    *, tenant: Tenant, contest: Contest, now: datetime | None = None, actor: Actor = SYSTEM
) -> Contest:
    """After ``ends_at``: the final standings, prizes by rank through the hold (what is
    not won goes back to the group), the table stored, the group and the winners told.
    One transaction; settling a settled contest returns it unchanged."""
    community_check(tenant)
    now = now or timezone.now()
    with tenant_context(tenant):
        # Raid points first, each raid in its own transaction (idempotent, so a crash
        # after some of them only leaves fewer to do).
        for raid in settled_raids_between(
            chat_id=contest.chat_id, since=contest.starts_at, until=contest.ends_at
        ):
            raid_points_award(tenant=tenant, raid=raid)
    with tenant_context(tenant), transaction.atomic():
        locked = _locked(contest.pk)
        if locked.status == Contest.Status.SETTLED:
            return locked
        if locked.status == Contest.Status.CANCELLED:
            raise ServiceError("this contest was cancelled", code="contest_closed", status=409)
        if now < locked.ends_at:
            raise ServiceError("the contest has not ended", code="contest_not_due", status=409)
        standings = contest_standings(tenant=tenant, contest=locked, limit=TIE_SCAN)
        payouts = prizes_by_standing([int(p) for p in locked.prizes], standings)
        hold = hold_of(tenant=tenant, hold_id=locked.hold_id)
        key = f"contest:{locked.pk}:settle"
        winners = sorted(payouts, key=lambda u: (-payouts[u], u))
        if payouts:
            hold_settle(
                hold=hold,
                payouts=[
                    (
                        account_get_or_create(
                            tenant=tenant,
                            owner_kind="user",
                            owner_id=user_id,
                            currency=locked.currency,
                            kind="available",
                        ),
                        payouts[user_id],
                    )
                    for user_id in winners
                ],
                idempotency_key=key,
            )
        else:
            hold_cancel(hold=hold, idempotency_key=key)
        table: list[dict[str, Any]] = [
            {**s.as_dict(), "prize": payouts.get(s.user_id, 0)} for s in standings[:STANDINGS_KEPT]
        ]
        locked.standings = table
        locked.status = Contest.Status.SETTLED
        locked.settled_at = now
        locked.save(update_fields=["standings", "status", "settled_at"])
        paid = sum(payouts.values())
        history.record(
            action="raids.contest_settled",
            actor=actor,
            tenant=tenant,
            target=("contest", locked.pk),
            data={"payouts": {str(u): payouts[u] for u in winners}, "paid": paid},
        )
        _announce(tenant, locked, table, payouts)
    logger.info(
        "raids.contest_settled",
        extra={"tenant": tenant.slug, "contest_id": locked.pk, "winners": len(payouts)},
    )
    return locked


def _announce(
    tenant: Tenant, contest: Contest, table: list[dict[str, Any]], payouts: dict[int, int]
) -> None:
    lines = [
        f"{row['rank']}. {row['name'] or row['user_id']}: {row['xp']} EXP"
        + (f" - {row['prize']} {contest.currency}" if row["prize"] else "")
        for row in table[:10]
    ]
    notify(
        tenant=tenant,
        event="contest.settled",
        chat_id=contest.chat_id,
        text=f"🏁 EXP contest #{contest.pk} ({contest.title}) is over.\n"
        + ("\n".join(lines) or "Nobody earned EXP: the prizes went back to the group."),
        idempotency_key=f"contest:{contest.pk}:settled",
    )
    users = {u.telegram_id: u for u in TelegramUser.objects.filter(telegram_id__in=list(payouts))}
    for user_id, amount in payouts.items():
        user = users.get(user_id)
        if user is not None:
            notify(
                tenant=tenant,
                event="contest.won",
                user=user,
                text=f"🏆 You won {amount} {contest.currency} minor units in EXP contest "
                f"#{contest.pk} ({contest.title}).",
                idempotency_key=f"contest:{contest.pk}:won:{user_id}",
            )


def contest_cancel(*, tenant: Tenant, contest: Contest, actor: Actor) -> Contest:
    """Cancel a contest not settled yet: the prizes go back to the group."""
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        locked = _locked(contest.pk)
        if locked.status == Contest.Status.CANCELLED:
            return locked
        if locked.status == Contest.Status.SETTLED:
            raise ServiceError("this contest is settled", code="contest_closed", status=409)
        pool_cancel(tenant=tenant, what="contest", record=locked, actor=actor, audit={})
    return locked
