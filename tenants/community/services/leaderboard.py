"""Leaderboard writes: messages and XP per user per group, by day, counted through a
write-behind buffer, and the rollup into all-time totals. (The boards are read by
``community.selectors.leaderboard_top`` and rendered by ``community.texts.board_text``.)

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

from django.db import connection, transaction
from django_tenants.utils import tenant_context

from botruntime.batching import WriteBehind
from community.group_config import GroupConfig
from community.selectors import community_check
from community.texts import NAME_MAX_LENGTH
from tenancy.models import Tenant
from tenancy.selectors import group_not_found

logger = logging.getLogger(__name__)

ROLL_LAG_DAYS = 3
KEEP_DAYS = 35  # a month of dailies stays queryable (monthly boards can come later)
LONG_MESSAGE = 50  # characters; a message this long earns double XP


def message_xp(*, text_length: int) -> int:
    """XP a counted message earns: 1, or 2 for a message of LONG_MESSAGE characters or
    more (text or caption) — effort counts a little, length cannot be farmed."""
    return 2 if text_length >= LONG_MESSAGE else 1


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


def leaderboard_rollup(*, tenant: Tenant, now: datetime | None = None) -> RollupResult:
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


# ---- XP from elsewhere (raid points) -----------------------------------------------------
_AWARD_DAY = """
INSERT INTO community_activityday AS a (group_id, user_id, day, messages, xp, name, username)
SELECT %(group)s, u, %(day)s, 0, x, n, '' FROM unnest(%(users)s::bigint[], %(xp)s::int[],
                                                     %(names)s::text[]) AS t(u, x, n)
ON CONFLICT (group_id, user_id, day) DO UPDATE
SET xp = a.xp + EXCLUDED.xp, name = COALESCE(NULLIF(EXCLUDED.name, ''), a.name)
"""
_AWARD_TOTAL = """
INSERT INTO community_activitytotal AS t (group_id, user_id, messages, xp, name, username,
                                          last_day)
SELECT %(group)s, u, 0, x, n, '', %(day)s FROM unnest(%(users)s::bigint[], %(xp)s::int[],
                                                     %(names)s::text[]) AS t(u, x, n)
ON CONFLICT (group_id, user_id) DO UPDATE
SET xp = t.xp + EXCLUDED.xp, name = COALESCE(NULLIF(t.name, ''), EXCLUDED.name)
"""


def xp_award_many(
    *, tenant: Tenant, chat_id: int, day: date, awards: list[tuple[int, int, str]]
) -> int:
    """Add XP earned outside messages (a settled raid's points) to the group's boards:
    ``awards`` is (user id, xp, name to show or ""), counted on the local ``day``. One
    additive upsert in the caller's transaction (rows in user order: no deadlock with
    the message path). A day the rollup already folded gets the XP in the all-time
    totals too, so the all-time board counts it exactly once. Not idempotent: the
    caller records that it awarded (``raids.services.leaderboard``). Returns the rows."""
    community_check(tenant)
    merged: dict[int, tuple[int, str]] = {}
    for user_id, xp, name in awards:
        if xp < 0:
            raise ValueError("xp is added, never taken")
        before = merged.get(user_id, (0, ""))
        merged[user_id] = (before[0] + xp, name or before[1])
    rows = sorted((u, x, n) for u, (x, n) in merged.items() if x > 0)
    if not rows:
        return 0
    with tenant_context(tenant), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT id FROM community_group WHERE chat_id = %s AND is_active", [chat_id])
        found = cursor.fetchone()
        if found is None:
            raise group_not_found(chat_id=chat_id)
        params = {
            "group": found[0],
            "day": day,
            "users": [r[0] for r in rows],
            "xp": [r[1] for r in rows],
            "names": [r[2][:NAME_MAX_LENGTH] for r in rows],
        }
        # FOR SHARE: a rollup (FOR UPDATE) cannot move rolled_through meanwhile.
        cursor.execute(
            "SELECT rolled_through FROM community_leaderboardrollup WHERE singleton FOR SHARE"
        )
        rolled = cursor.fetchone()
        cursor.execute(_AWARD_DAY, params)
        if rolled is not None and day <= rolled[0]:
            cursor.execute(_AWARD_TOTAL, params)
    logger.info(
        "community.leaderboard.xp_awarded",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "rows": len(rows)},
    )
    return len(rows)


def xp_award(
    *, tenant: Tenant, chat_id: int, user_id: int, xp: int, day: date, name: str = ""
) -> int:
    """``xp_award_many`` for one user."""
    return xp_award_many(tenant=tenant, chat_id=chat_id, day=day, awards=[(user_id, xp, name)])
