"""Reads of giveaways and EXP contests: lists, one by id (404 otherwise), a user's raid
points, a contest's live standings. Every function runs in the tenant's schema."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet, Sum
from django_tenants.utils import tenant_context

from community.group_config import group_config_load
from community.selectors import bound_group_get
from config.errors import ServiceError
from raids.models import Contest, Giveaway, Participant, Raid
from tenancy.models import Tenant
from tenancy.selectors import group_not_found


def giveaway_list(*, tenant: Tenant, chat_id: int, status: str | None = None) -> QuerySet[Giveaway]:
    """The group's giveaways, newest first (``status`` to filter). 404 for a chat that
    is not one of the tenant's groups."""
    bound_group_get(tenant=tenant, chat_id=chat_id)
    giveaways = Giveaway.objects.filter(chat_id=chat_id)
    if status is not None:
        giveaways = giveaways.filter(status=status)
    return giveaways.order_by("-id")


def giveaway_get(*, tenant: Tenant, chat_id: int, giveaway_id: int) -> Giveaway:
    bound_group_get(tenant=tenant, chat_id=chat_id)
    giveaway = Giveaway.objects.filter(chat_id=chat_id, pk=giveaway_id).first()
    if giveaway is None:
        raise ServiceError(
            f"giveaway {giveaway_id} is not in this group", code="giveaway_not_found", status=404
        )
    return giveaway


def giveaway_entered(*, giveaway: Giveaway, user_id: int) -> bool:
    return giveaway.entries.filter(user_id=user_id).exists()


def raid_points_total(*, tenant: Tenant, user_id: int) -> int:
    """The user's points in the tenant's settled raids (excluded participants score
    nothing)."""
    with tenant_context(tenant):
        total = Participant.objects.filter(
            user_id=user_id,
            status=Participant.Status.ACTIVE,
            raid__status=Raid.Status.SETTLED,
        ).aggregate(total=Sum("points"))["total"]
    return int(total or 0)


def contest_list(*, tenant: Tenant, chat_id: int) -> QuerySet[Contest]:
    bound_group_get(tenant=tenant, chat_id=chat_id)
    return Contest.objects.filter(chat_id=chat_id).order_by("-id")


def contest_get(*, tenant: Tenant, chat_id: int, contest_id: int) -> Contest:
    bound_group_get(tenant=tenant, chat_id=chat_id)
    contest = Contest.objects.filter(chat_id=chat_id, pk=contest_id).first()
    if contest is None:
        raise ServiceError(
            f"contest {contest_id} is not in this group", code="contest_not_found", status=404
        )
    return contest


def contest_latest(*, tenant: Tenant, chat_id: int) -> Contest | None:
    """The group's newest contest that was not cancelled (what /contest shows)."""
    bound_group_get(tenant=tenant, chat_id=chat_id)
    return (
        Contest.objects.filter(chat_id=chat_id)
        .exclude(status=Contest.Status.CANCELLED)
        .order_by("-id")
        .first()
    )


@dataclass(frozen=True)
class Standing:
    rank: int
    user_id: int
    name: str
    xp: int

    def as_dict(self) -> dict[str, Any]:
        return {"rank": self.rank, "user_id": self.user_id, "name": self.name, "xp": self.xp}


def contest_days(*, tenant: Tenant, contest: Contest) -> tuple[date, date]:
    """The group's local days a contest counts: the day ``starts_at`` falls on through
    the day of the last instant before ``ends_at`` (XP is kept per local day, so a
    contest counts whole days)."""
    config = group_config_load(tenant=tenant, chat_id=contest.chat_id)
    if config is None:
        raise group_not_found(chat_id=contest.chat_id)
    first = contest.starts_at.astimezone(config.timezone).date()
    last = (contest.ends_at - timedelta(microseconds=1)).astimezone(config.timezone).date()
    return first, last


_STANDINGS = """
SELECT d.user_id, SUM(d.xp) AS xp, (array_agg(d.name ORDER BY d.day DESC))[1]
  FROM community_activityday d JOIN community_group g ON g.id = d.group_id
 WHERE g.chat_id = %(chat)s AND g.is_active AND d.day >= %(first)s AND d.day <= %(last)s
 GROUP BY d.user_id
HAVING SUM(d.xp) > 0
 ORDER BY xp DESC, d.user_id ASC
 LIMIT %(limit)s
"""


def contest_standings(*, tenant: Tenant, contest: Contest, limit: int = 100) -> list[Standing]:
    """EXP earned in the contest's days (message XP and awarded raid points), highest
    first; ties share a rank (standard competition ranking: 1, 1, 3), listed by user id."""
    first, last = contest_days(tenant=tenant, contest=contest)
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            _STANDINGS, {"chat": contest.chat_id, "first": first, "last": last, "limit": limit}
        )
        rows = cursor.fetchall()
    standings: list[Standing] = []
    for position, (user_id, xp, name) in enumerate(rows, start=1):
        tied = standings and standings[-1].xp == int(xp)
        rank = standings[-1].rank if tied else position
        standings.append(Standing(rank, int(user_id), name or "", int(xp)))
    return standings


def settled_raids_between(*, chat_id: int, since: datetime, until: datetime) -> QuerySet[Raid]:
    """The group's raids settled in [since, until) (their points count in a contest)."""
    return Raid.objects.filter(
        chat_id=chat_id, status=Raid.Status.SETTLED, settled_at__gte=since, settled_at__lt=until
    ).order_by("id")
