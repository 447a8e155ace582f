"""Reads of a tenant's community: groups and admins, moderation rules and log, join
times, leaderboards. Querysets are lazy: call the group reads inside the tenant's schema
(an API request on the tenant's domain, or ``tenant_context``); ``community_check``
refuses any other schema so a query never lands in the wrong tenant. The rules document
and the boards enter the tenant's schema themselves (the bot's handlers call them too)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import QuerySet
from django_tenants.utils import tenant_context

from community.group_config import GroupConfig, group_config_load
from community.models import Group, GroupAdmin, Member, ModerationAction, ModerationRules
from community.rules import rules_effective
from config.errors import ServiceError
from tenancy.connection import schema_connection
from tenancy.models import Tenant
from tenancy.selectors import community_check as tenancy_community_check
from tenancy.selectors import group_not_found, tenant_bots


def community_check(tenant: Tenant) -> None:
    """Group data lives only in community tenants' schemas (the public tenant has none)."""
    tenancy_community_check(tenant, what="groups belong")


def _schema_check(tenant: Tenant) -> None:
    community_check(tenant)
    if schema_connection.schema_name != tenant.schema_name:
        raise RuntimeError(
            f"community selectors for {tenant.schema_name!r} called in schema "
            f"{schema_connection.schema_name!r}; wrap the call in tenant_context(tenant)"
        )


def group_list(*, tenant: Tenant) -> QuerySet[Group]:
    """The tenant's bound (active) groups."""
    _schema_check(tenant)
    return Group.objects.filter(is_active=True)


def bound_group_get(*, tenant: Tenant, chat_id: int, for_update: bool = False) -> Group:
    """The tenant's bound group ``chat_id`` (locked until the caller's transaction ends
    with ``for_update``); 404 ``group_not_found`` for any other chat. How a view or a
    service finds the group an operation names."""
    _schema_check(tenant)
    groups = Group.objects.select_for_update() if for_update else Group.objects
    group = groups.filter(chat_id=chat_id, is_active=True).first()
    if group is None:
        raise group_not_found(chat_id=chat_id)
    return group


def group_admin_list(*, tenant: Tenant, chat_id: int) -> QuerySet[GroupAdmin]:
    _schema_check(tenant)
    return GroupAdmin.objects.filter(group__chat_id=chat_id, group__is_active=True)


# ---- moderation --------------------------------------------------------------------------
def moderation_rules_get(*, tenant: Tenant, chat_id: int) -> dict[str, Any]:
    """A bound group's effective rules document (defaults where nothing was set)."""
    community_check(tenant)
    with tenant_context(tenant):
        group = bound_group_get(tenant=tenant, chat_id=chat_id)
        stored = ModerationRules.objects.filter(group=group).values_list("rules", flat=True).first()
        return rules_effective(stored, enabled=group.effective_features["moderation"])


def moderation_action_list(
    *, tenant: Tenant, chat_id: int, user_id: int | None = None, rule: str | None = None
) -> QuerySet[ModerationAction]:
    """A bound group's action log (newest first), optionally of one user or rule.
    Inside the tenant's schema; raises group_not_found for an unknown chat."""
    group = bound_group_get(tenant=tenant, chat_id=chat_id)
    qs = ModerationAction.objects.filter(group=group)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    if rule:
        qs = qs.filter(rule=rule)
    return qs


def member_is_new(*, group_pk: int, user_id: int, hours: int, now: datetime) -> bool:
    """Did ``user_id`` join the group less than ``hours`` before ``now`` (as far as the
    bot saw the join)? Inside the tenant's schema."""
    return Member.objects.filter(
        group_id=group_pk, user_id=user_id, joined_at__gt=now - timedelta(hours=hours)
    ).exists()


# ---- leaderboards ------------------------------------------------------------------------
PERIODS = ("day", "week", "all")
WEEK_DAYS = 7
TOP_DEFAULT = 10
TOP_MAX = 100


@dataclass(frozen=True)
class Entry:
    rank: int
    user_id: int
    name: str
    username: str
    messages: int
    xp: int


@dataclass(frozen=True)
class Board:
    chat_id: int
    period: str
    since: date | None  # first local day counted (None: all time)
    today: date
    entries: list[Entry]


_TOP_DAYS = """
SELECT user_id, SUM(messages), SUM(xp),
       (array_agg(name ORDER BY day DESC))[1], (array_agg(username ORDER BY day DESC))[1]
  FROM community_activityday
 WHERE group_id = %(group)s AND day >= %(since)s AND day <= %(today)s
 GROUP BY user_id
 ORDER BY 3 DESC, 2 DESC, 1
 LIMIT %(limit)s
"""

_TOP_ALL = """
WITH rolled AS (
    SELECT COALESCE(MAX(rolled_through), DATE '0001-01-01') AS through
      FROM community_leaderboardrollup
), rows AS (
    SELECT user_id, messages, xp, last_day AS day, name, username
      FROM community_activitytotal WHERE group_id = %(group)s
    UNION ALL
    SELECT user_id, messages, xp, day, name, username
      FROM community_activityday, rolled
     WHERE group_id = %(group)s AND day > rolled.through
)
SELECT user_id, SUM(messages), SUM(xp),
       (array_agg(name ORDER BY day DESC))[1], (array_agg(username ORDER BY day DESC))[1]
  FROM rows
 GROUP BY user_id
 ORDER BY 3 DESC, 2 DESC, 1
 LIMIT %(limit)s
"""


def period_check(period: str) -> str:
    if period not in PERIODS:
        raise ServiceError(
            f"period: use one of {', '.join(PERIODS)}", code="invalid_period", status=400
        )
    return period


def leaderboard_top(
    *,
    tenant: Tenant,
    chat_id: int,
    period: str,
    limit: int = TOP_DEFAULT,
    config: GroupConfig | None = None,
    today: date | None = None,
) -> Board:
    """The group's top ``limit`` users by XP (then messages) for ``period``. ``config``
    is the group's (cached) config when the caller has it; else it is read now."""
    community_check(tenant)
    period_check(period)
    if config is None:
        config = group_config_load(tenant=tenant, chat_id=chat_id)
    if config is None:
        raise group_not_found(chat_id=chat_id)
    if config.schema_name != tenant.schema_name or config.chat_id != chat_id:
        raise RuntimeError("group config of another group")
    if not config.leaderboard:
        raise ServiceError(
            "the leaderboard is turned off in this group", code="leaderboard_disabled", status=409
        )
    limit = max(1, min(limit, TOP_MAX))
    today = today or config.today()
    since = None
    params: dict[str, Any] = {"group": config.group_pk, "limit": limit, "today": today}
    if period == "all":
        sql = _TOP_ALL
    else:
        since = today if period == "day" else today - timedelta(days=WEEK_DAYS - 1)
        sql, params["since"] = _TOP_DAYS, since
    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    entries = [
        Entry(
            rank=i,
            user_id=user_id,
            name=name or "",
            username=username or "",
            messages=int(messages),
            xp=int(xp),
        )
        for i, (user_id, messages, xp, name, username) in enumerate(rows, start=1)
    ]
    return Board(chat_id=config.chat_id, period=period, since=since, today=today, entries=entries)


# ---- levels ------------------------------------------------------------------------------
XP_PER_LEVEL_UNIT = 100  # level n needs 100 * n^2 XP: 1 at 100, 2 at 400, 10 at 10,000

_USER_XP = """
WITH rolled AS (
    SELECT COALESCE(MAX(rolled_through), DATE '0001-01-01') AS through
      FROM community_leaderboardrollup
)
SELECT COALESCE((SELECT SUM(xp) FROM community_activitytotal
                  WHERE group_id = %(group)s AND user_id = %(user)s), 0)
     + COALESCE((SELECT SUM(xp) FROM community_activityday, rolled
                  WHERE group_id = %(group)s AND user_id = %(user)s
                    AND day > rolled.through), 0)
"""


def level_of(xp: int) -> int:
    """``floor(sqrt(xp / 100))``: each level takes more XP than the one before."""
    return math.isqrt(max(0, xp) // XP_PER_LEVEL_UNIT)


def member_xp(*, tenant: Tenant, chat_id: int, user_id: int) -> int:
    """The user's all-time XP in the bound group (the rolled-up totals and the days the
    rollup has not folded in yet, as the all-time leaderboard counts them)."""
    community_check(tenant)
    with tenant_context(tenant):
        group = bound_group_get(tenant=tenant, chat_id=chat_id)
        with connection.cursor() as cursor:
            cursor.execute(_USER_XP, {"group": group.pk, "user": user_id})
            row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def member_level(*, tenant: Tenant, chat_id: int, user_id: int) -> int:
    """The user's community level in the group: ``level_of`` their all-time XP."""
    return level_of(member_xp(tenant=tenant, chat_id=chat_id, user_id=user_id))


def group_bot_token(*, tenant: Tenant, bot_id: int | None) -> str:
    """The token to ask Telegram about a group with: its bot's (``bot_id``), else any of
    the community's bots; 409 ``no_bot_token`` when the platform holds none."""
    bots = [(bid, token) for bid, token in tenant_bots(tenant=tenant) if token]
    for bid, token in bots:
        if bid == bot_id:
            return token
    if bots:
        return bots[0][1]
    raise ServiceError(
        "the platform holds no token for this community's bot, so it cannot ask Telegram",
        code="no_bot_token",
        status=409,
    )
