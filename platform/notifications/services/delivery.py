"""The dispatcher's protocol over the outbox: claim → mark sending → record the result,
plus the housekeeping that ends what a vanished dispatcher left (reap) and what is old
(purge). docs/architecture.md ("Notifications") explains why it delivers every message at
most once and every message whose send never started exactly once."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from notifications import conf
from notifications.models import Broadcast, OutboxMessage
from notifications.services.recipients import recipient_block

logger = logging.getLogger(__name__)
Status = OutboxMessage.Status

# Times come from PostgreSQL's clock_timestamp() (not now(), which is frozen for the
# length of a transaction), so every dispatcher judges leases by the same clock.

TABLE = OutboxMessage._meta.db_table


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    chat_id: int
    user_id: int | None
    event: str
    text: str
    options: dict[str, Any]
    paid: bool
    attempts: int
    priority: int
    broadcast_id: int | None


_CLAIM = f"""
WITH picked AS (
    SELECT o.id FROM {TABLE} o
     WHERE o.bot_id = %(bot_id)s AND o.status = 'pending'
       AND o.not_before <= clock_timestamp()
       AND (o.lease_until IS NULL OR o.lease_until < clock_timestamp())
       AND EXISTS (SELECT 1 FROM tenancy_tenant t WHERE t.id = o.tenant_id AND t.status = 'active')
       -- Only the head of each chat's queue: a chat's messages go out in order, one at a
       -- time, and one that waits (rate limit, retry) holds back the ones after it. The
       -- head is one lookup in ntf_outbox_chat_queue per candidate (a NOT EXISTS over older
       -- rows let the planner join every candidate with every queued row of the bot).
       AND o.id = (
           SELECT e.id FROM {TABLE} e
            WHERE e.bot_id = o.bot_id AND e.chat_id = o.chat_id
              AND e.status IN ('pending', 'sending')
            ORDER BY e.id
            LIMIT 1)
     ORDER BY o.priority, o.id
     LIMIT %(limit)s
       FOR UPDATE OF o SKIP LOCKED
)
UPDATE {TABLE} o
   SET lease_owner = %(owner)s,
       lease_until = clock_timestamp() + %(lease)s * interval '1 second'
  FROM picked
 WHERE o.id = picked.id
RETURNING o.id, o.tenant_id, o.chat_id, o.user_id, o.event, o.text, o.options, o.paid,
          o.attempts, o.priority, o.broadcast_id
"""  # noqa: S608 - the table name is ours, values are parameters


def outbox_claim(
    *, bot_id: int, owner: uuid.UUID, limit: int, lease_seconds: float | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` due messages of the bot to ``owner``: the oldest unfinished
    message of each chat (so a chat's messages go out in order, one at a time), transactional
    before bulk, then oldest first. A leased row is still ``pending``: if its dispatcher dies
    now, the lease runs out and another dispatcher claims it; nothing was sent."""
    lease = conf.lease_seconds() if lease_seconds is None else lease_seconds
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner cannot tell how many candidates are heads, so with a long queue it
        # costs the scan high enough to JIT-compile it: ~50 ms of compiling for ~2 ms of work.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_CLAIM, {"bot_id": bot_id, "owner": owner, "limit": limit, "lease": lease})
        rows = cursor.fetchall()
    rows.sort(key=lambda r: (r[9], r[0]))
    return [
        Claimed(
            id=r[0],
            tenant_id=r[1],
            chat_id=r[2],
            user_id=r[3],
            event=r[4],
            text=r[5],
            options=r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}"),
            paid=r[7],
            attempts=r[8],
            priority=r[9],
            broadcast_id=r[10],
        )
        for r in rows
    ]


def _update(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def outbox_mark_sending(
    *, message_id: int, owner: uuid.UUID, lease_seconds: float | None = None
) -> bool:
    """Commit, *before* the HTTP request, that this message's send is starting. False when
    the lease was lost (expired and claimed elsewhere, or the row was cancelled): skip it."""
    lease = conf.lease_seconds() if lease_seconds is None else lease_seconds
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'sending', updated_at = clock_timestamp(),"  # noqa: S608
            " lease_until = clock_timestamp() + %(lease)s * interval '1 second'"
            " WHERE id = %(id)s AND status = 'pending' AND lease_owner = %(owner)s"
            " AND lease_until > clock_timestamp()",
            {"id": message_id, "owner": owner, "lease": lease},
        )
    )


# A result is recorded even if the reaper already called the row uncertain: now it is known.
_MINE = "id = %(id)s AND lease_owner = %(owner)s AND status IN ('sending', 'uncertain')"


def outbox_record_sent(*, message_id: int, owner: uuid.UUID, telegram_message_id: int) -> bool:
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'sent', telegram_message_id = %(mid)s,"  # noqa: S608
            " sent_at = clock_timestamp(), updated_at = clock_timestamp(),"
            " attempts = attempts + 1, last_error = '', lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "mid": telegram_message_id},
        )
    )


def outbox_record_retry(
    *,
    message_id: int,
    owner: uuid.UUID,
    delay: float,
    error: str,
    count_attempt: bool = True,
    max_attempts: int | None = None,
) -> str:
    """Telegram did not take the message: back to pending after ``delay`` seconds, or
    ``failed`` once the counted attempts reach the limit. A 429 passes
    ``count_attempt=False``: flood control is not the message's failure."""
    limit = conf.max_attempts() if max_attempts is None else max_attempts
    bump = 1 if count_attempt else 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET attempts = attempts + %(bump)s,"  # noqa: S608
            " status = CASE WHEN attempts + %(bump)s >= %(limit)s THEN 'failed' ELSE 'pending' END,"
            " not_before = clock_timestamp() + %(delay)s * interval '1 second',"
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE} RETURNING status",
            {
                "id": message_id,
                "owner": owner,
                "bump": bump,
                "limit": limit,
                "delay": delay,
                "error": error[:1000],
            },
        )
        row = cursor.fetchone()
    return row[0] if row else ""


def outbox_record_final(*, message_id: int, owner: uuid.UUID, status: str, error: str) -> bool:
    """A final outcome without delivery: ``failed`` (Telegram refused it for good) or
    ``uncertain`` (the request may have reached Telegram; it is not resent)."""
    if status not in (Status.FAILED, Status.UNCERTAIN):
        raise ValueError(f"not a final status without delivery: {status!r}")
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = %(status)s, attempts = attempts + 1,"  # noqa: S608
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "status": status, "error": error[:1000]},
        )
    )


def outbox_record_migrated(*, message_id: int, owner: uuid.UUID, new_chat_id: int) -> bool:
    """The group became a supergroup with a new id: send there, now."""
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'pending', chat_id = %(chat)s,"  # noqa: S608
            " last_error = 'group migrated to a supergroup', updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "chat": new_chat_id},
        )
    )


def outbox_record_blocked(*, message_id: int, owner: uuid.UUID, bot_id: int, error: str) -> bool:
    """403: the user blocked the bot or never started it, or the bot is no longer in the
    group. The message is ``blocked``; a user is marked blocked (and, if they blocked the
    bot, unsubscribed), audited."""
    with transaction.atomic():
        updated = _update(
            f"UPDATE {TABLE} SET status = 'blocked', attempts = attempts + 1,"  # noqa: S608
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "error": error[:1000]},
        )
        if not updated:
            return False
        message = OutboxMessage.objects.select_related("tenant").get(pk=message_id)
        if message.user_id is not None:
            recipient_block(
                tenant=message.tenant,
                user_id=message.user_id,
                chat_id=message.chat_id,
                bot_id=bot_id,
                error=error,
            )
        else:
            cancelled = OutboxMessage.objects.filter(
                tenant=message.tenant, bot_id=bot_id, chat_id=message.chat_id, status=Status.PENDING
            ).update(
                status=Status.CANCELLED,
                last_error="the bot cannot write to this chat",
                lease_owner=None,
                lease_until=None,
                updated_at=timezone.now(),
            )
            logger.warning(
                "notifications.chat_forbidden",
                extra={"chat_id": message.chat_id, "bot_id": bot_id, "cancelled": cancelled},
            )
    return True


def outbox_unmark(*, message_id: int, owner: uuid.UUID, delay: float) -> bool:
    """Take back a ``sending`` mark whose request was never made (the rate limiter said
    wait after all): pending again after ``delay`` seconds, no attempt counted."""
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'pending', lease_owner = NULL, lease_until = NULL,"  # noqa: S608
            " not_before = clock_timestamp() + %(delay)s * interval '1 second',"
            " updated_at = clock_timestamp()"
            " WHERE id = %(id)s AND lease_owner = %(owner)s AND status = 'sending'",
            {"id": message_id, "owner": owner, "delay": delay},
        )
    )


def outbox_release(*, message_ids: list[int], owner: uuid.UUID, delay: float = 0.0) -> int:
    """Give claimed, never-started messages back (graceful stop, or deferred by a chat's
    rate limit for ``delay`` seconds). No attempt is counted."""
    if not message_ids:
        return 0
    return _update(
        f"UPDATE {TABLE} SET lease_owner = NULL, lease_until = NULL,"  # noqa: S608
        " not_before = greatest(not_before, clock_timestamp() + %(delay)s * interval '1 second')"
        " WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s AND status = 'pending'",
        {"ids": list(message_ids), "owner": owner, "delay": delay},
    )


def outbox_reap(*, bot_id: int | None = None) -> int:
    """Messages whose send started but whose dispatcher vanished (its lease ran out with the
    result unrecorded) may or may not have reached Telegram: mark them ``uncertain``, never
    resend them blindly. Returns how many (logged as a warning when any)."""
    where = "status = 'sending' AND lease_until < clock_timestamp()"
    params: dict[str, Any] = {}
    if bot_id is not None:
        where += " AND bot_id = %(bot_id)s"
        params["bot_id"] = bot_id
    reaped = _update(
        f"UPDATE {TABLE} SET status = 'uncertain', updated_at = clock_timestamp(),"  # noqa: S608
        " last_error = 'the dispatcher stopped during the send; delivery unknown'"
        f" WHERE {where}",
        params,
    )
    if reaped:
        logger.warning("notifications.uncertain", extra={"bot_id": bot_id, "count": reaped})
    return reaped


def outbox_purge(*, older_than: timedelta) -> int:
    """Delete finished messages older than ``older_than``; a broadcast's rows only once it
    completed (its counts are kept on the Broadcast). ``uncertain`` rows stay for review."""
    cutoff = timezone.now() - older_than
    finished = [Status.SENT, Status.FAILED, Status.BLOCKED, Status.CANCELLED]
    deleted, _ = (
        OutboxMessage.objects.filter(status__in=finished, updated_at__lt=cutoff)
        .exclude(
            broadcast__status__in=[Broadcast.Status.EXPANDING, Broadcast.Status.SENDING],
        )
        .delete()
    )
    return deleted
