"""Leaderboards: messages and XP per user per group, by day, week and all time.

Storage (tenant schema):

- ``ActivityDay`` — one row per (group, user, local day). Counted group messages are
  merged in memory per row (``ACTIVITY``, a write-behind buffer the bot runtime applies
  every ``BOT_WRITE_BEHIND_S`` seconds) and added with ONE statement per tenant schema
  (``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO UPDATE SET messages = messages +
  N, xp = xp + M``): no read, no lock held beyond the rows, and concurrent writers never
  lose an increment. The day is the group's local date (its time zone
  setting), so "today" turns over at the group's midnight.
- ``ActivityTotal`` — all-time totals of the days already rolled up, and
  ``LeaderboardRollup.rolled_through`` — the last day included in them.
- Day board: the rows of today. Week board: the last 7 local days including today
  (rolling, never empty on a Monday). All-time board: totals + the days after
  ``rolled_through``, summed in one statement (one snapshot, so a rollup committing
  meanwhile is counted exactly once).

The rollup (job ``community.leaderboard_rollup``, every 6 hours per tenant) folds days up
to ``UTC today - ROLL_LAG_DAYS`` into the totals and moves ``rolled_through`` in one
transaction, then deletes days older than ``KEEP_DAYS``. The lag guarantees no message is
still being counted into a rolled day: a group's local date is at most one day behind
UTC's (UTC-12), so days before yesterday-in-UTC are closed everywhere; one more day of
margin covers a message whose handler started just before midnight.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django_tenants.utils import tenant_context

from botruntime.batching import WriteBehind
from community.group_config import GroupConfig, group_config_load
from community.selectors import community_check
from config.errors import ServiceError
from tenancy.selectors import group_not_found

logger = logging.getLogger(__name__)

PERIODS = ("day", "week", "all")
WEEK_DAYS = 7
ROLL_LAG_DAYS = 3
KEEP_DAYS = 35  # a month of dailies stays queryable (monthly boards can come later)
TOP_DEFAULT = 10
TOP_MAX = 100
LONG_MESSAGE = 50  # characters; a message this long earns double XP
NAME_MAX_LENGTH = 160


def message_xp(*, text_length: int) -> int:
    """XP a counted message earns: 1, or 2 for a message of LONG_MESSAGE characters or
    more (text or caption) — effort counts a little, length cannot be farmed."""
    return 2 if text_length >= LONG_MESSAGE else 1


def display_name(first_name: str | None, last_name: str | None = None) -> str:
    return " ".join(p for p in (first_name, last_name) if p).strip()[:NAME_MAX_LENGTH]


_INCREMENT = """
INSERT INTO {schema}.community_activityday AS a
    (group_id, user_id, day, messages, xp, name, username)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::date[], %s::int[], %s::int[],
                     %s::text[], %s::text[])
ON CONFLICT (group_id, user_id, day) DO UPDATE
SET messages = a.messages + EXCLUDED.messages, xp = a.xp + EXCLUDED.xp,
    name = EXCLUDED.name, username = EXCLUDED.username
"""

# (tenant schema, group pk, user id, local day): one ActivityDay row.
ActivityKey = tuple[str, int, int, date]


@dataclass(frozen=True)
class Activity:
    """Messages and XP to add to one ActivityDay row, and the name to show."""

    messages: int
    xp: int
    name: str = ""
    username: str = ""

    def merged(self, later: Activity) -> Activity:
        return Activity(
            self.messages + later.messages, self.xp + later.xp, later.name, later.username
        )


def activity_apply(pending: dict[ActivityKey, Activity]) -> None:
    """Add ``pending`` to the leaderboards in one transaction: one upsert per tenant schema
    for all its rows. Increments are additive (``messages = messages + N``), so
    concurrent writers never lose one; rows go in key order, so two writers lock shared
    rows in the same order and cannot deadlock. Safe outside tenant_context: each
    statement names its schema."""
    by_schema: dict[str, list[tuple[ActivityKey, Activity]]] = {}
    for key, activity in sorted(pending.items()):
        by_schema.setdefault(key[0], []).append((key, activity))
    with transaction.atomic(), connection.cursor() as cursor:
        for schema, rows in by_schema.items():
            cursor.execute(
                _INCREMENT.format(schema=connection.ops.quote_name(schema)),
                [
                    [key[1] for key, _ in rows],
                    [key[2] for key, _ in rows],
                    [key[3] for key, _ in rows],
                    [a.messages for _, a in rows],
                    [a.xp for _, a in rows],
                    [a.name[:NAME_MAX_LENGTH] for _, a in rows],
                    [a.username[:64] for _, a in rows],
                ],
            )


# The message handler's increments, applied in batches by the bot runtime.
ACTIVITY: WriteBehind[ActivityKey, Activity] = WriteBehind(
    "community.activity", activity_apply, Activity.merged, schema_of=lambda key: key[0]
)


def activity_count(
    *,
    config: GroupConfig,
    user_id: int,
    xp: int,
    name: str = "",
    username: str = "",
    day: date | None = None,
) -> None:
    """Count one message of ``user_id`` in the group, buffered: the bot runtime writes it
    with the others of the last ``BOT_WRITE_BEHIND_S`` seconds (``activity_apply``).
    No database access: safe on the event loop."""
    key = (config.schema_name, config.group_pk, user_id, day or config.today())
    ACTIVITY.add(key, Activity(1, xp, name, username or ""))


# ---- boards ------------------------------------------------------------------------------
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
    tenant: Any,
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


def board_text(board: Board, *, title: str = "") -> str:
    """The /leaderboard reply."""
    heading = {"day": "today", "week": "the last 7 days", "all": "all time"}[board.period]
    lines = [f"Leaderboard — {heading}" + (f" in {title}" if title else "")]
    if not board.entries:
        lines.append("No messages counted yet.")
    for entry in board.entries:
        who = entry.name or (f"@{entry.username}" if entry.username else str(entry.user_id))
        plural = "" if entry.messages == 1 else "s"
        lines.append(f"{entry.rank}. {who} — {entry.xp} XP ({entry.messages} message{plural})")
    return "\n".join(lines)


# ---- rollup ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RollupResult:
    rolled_through: date
    rows_folded: int
    rows_pruned: int


_FOLD = """
INSERT INTO community_activitytotal AS t
    (group_id, user_id, messages, xp, name, username, last_day)
SELECT group_id, user_id, SUM(messages), SUM(xp),
       (array_agg(name ORDER BY day DESC))[1], (array_agg(username ORDER BY day DESC))[1],
       MAX(day)
  FROM community_activityday
 WHERE day > %(after)s AND day <= %(through)s
 GROUP BY group_id, user_id
ON CONFLICT (group_id, user_id) DO UPDATE
SET messages = t.messages + EXCLUDED.messages,
    xp = t.xp + EXCLUDED.xp,
    name = CASE WHEN EXCLUDED.last_day >= t.last_day THEN EXCLUDED.name ELSE t.name END,
    username = CASE WHEN EXCLUDED.last_day >= t.last_day
                    THEN EXCLUDED.username ELSE t.username END,
    last_day = GREATEST(t.last_day, EXCLUDED.last_day)
"""


def leaderboard_rollup(*, tenant: Any, now: datetime | None = None) -> RollupResult:
    """Fold closed days into the all-time totals and prune old days; idempotent (run it
    any number of times; a second run in the same day folds nothing)."""
    community_check(tenant)
    today_utc = (now or datetime.now(UTC)).astimezone(UTC).date()
    through = today_utc - timedelta(days=ROLL_LAG_DAYS)
    with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO community_leaderboardrollup (singleton, rolled_through, updated_at) "
            "VALUES (true, DATE '0001-01-01', now()) ON CONFLICT (singleton) DO NOTHING"
        )
        # The row lock serialises rollups of this schema (two runtimes, a retry).
        cursor.execute(
            "SELECT rolled_through FROM community_leaderboardrollup WHERE singleton FOR UPDATE"
        )
        (after,) = cursor.fetchone()
        folded = 0
        if through > after:
            cursor.execute(_FOLD, {"after": after, "through": through})
            folded = cursor.rowcount
            cursor.execute(
                "UPDATE community_leaderboardrollup SET rolled_through = %s, updated_at = now() "
                "WHERE singleton",
                [through],
            )
        cursor.execute(
            "DELETE FROM community_activityday WHERE day < %s AND day <= %s",
            [today_utc - timedelta(days=KEEP_DAYS), max(through, after)],
        )
        pruned = cursor.rowcount
    result = RollupResult(
        rolled_through=max(through, after), rows_folded=folded, rows_pruned=pruned
    )
    logger.info(
        "community.leaderboard.rolled_up",
        extra={
            "tenant": tenant.slug,
            "rolled_through": result.rolled_through.isoformat(),
            "rows_folded": folded,
            "rows_pruned": pruned,
        },
    )
    return result
