"""Polling X for a community: each compiled query (``queries.tenant_queries``) is searched
from its cursor's ``since_id`` when it is due, and what it returns is ingested.

- **Cursors** are keyed by ``Compiled.key``. A query no longer compiled loses its cursor.
  A new query whose members (followed accounts, rules) were served by old queries
  resumes from the oldest ``since_id`` among those, so changing a query misses nothing.
  A query with nothing to resume from reads only its newest page the first time, and
  until it has a ``since_id`` forwards nothing created before the cursor was made minus
  ``FIRST_POLL_GRACE``: a new forwarding does not flood its group with history.
- **Paging**: newest first, following ``next_token`` until X has nothing more newer than
  ``since_id``, at most ``MAX_PAGES`` requests per query and round (beyond that, the
  older posts are skipped and ``xfeed.poll.truncated`` is logged). The cursor advances
  only after the last page: a round cut short resumes from the same ``since_id``
  (what was already ingested comes back as duplicates).
- **Due**: a cursor is due ``interval_s`` after its last search. The interval adapts to
  the query's traffic, aiming at ``TARGET_PER_CALL`` posts per request: it grows (at
  most doubling per round, up to ``XFEED_POLL_MAX_SECONDS``) while a query returns
  fewer, and shrinks at once (down to ``XFEED_POLL_SECONDS``) when it returns more.
  ``backfill`` searches every query now (after a stream disconnect or a restart).
- **Reads** go through ``XReader`` with the community's own app credential when it has
  one, else the platform's token; forwarding at ``Priority.FORWARDING``, mentions at
  ``Priority.MENTIONS``, forwarding first. When the budget or the cap refuses a read
  (``ReadRefused``), or X fails, the round ends there, reported in the result; the
  cursors keep their place.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import requests
import tweepy
from django.conf import settings
from django.db.models import F
from django.db.models.functions import Greatest
from django_tenants.utils import tenant_context

from community.selectors import community_check
from xclient.models import Credential, Priority
from xclient.reader import ReadRefused, XReader
from xfeed.conf import poll_max_seconds, poll_seconds
from xfeed.models import Cursor, Post
from xfeed.posts import READ_FIELDS, posts_from_response
from xfeed.queries import FORWARD, Compiled, tenant_queries
from xfeed.services.ingest import Ingested, posts_ingest

if TYPE_CHECKING:
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)

FIRST_POLL_GRACE = timedelta(minutes=5)
MAX_PAGES = 10
PAGE_SIZE = 100  # X's largest page for recent search
TARGET_PER_CALL = 20


@dataclass
class PollResult:
    """One round: ``searched`` queries, ``calls`` made to X, what was ``ingested``;
    ``refused``: the ``ReadRefused`` code that ended it ("" when none) and ``retry_at``;
    ``errors``: X's failures that ended it."""

    searched: int = 0
    calls: int = 0
    ingested: Ingested = field(default_factory=Ingested)
    refused: str = ""
    retry_at: datetime | None = None
    errors: list[str] = field(default_factory=list)


def next_interval(
    *,
    current: int,
    elapsed: float,
    returned: int,
    first: bool = False,
    target: int = TARGET_PER_CALL,
) -> int:
    """The wait before a query's next search: the time ``target`` posts take at the
    rate it just saw (``returned`` posts in ``elapsed`` seconds), so that a search
    returns about that many in one request; within the configured bounds, growing at
    most twofold at a time."""
    low, high = poll_seconds(), poll_max_seconds()
    current = current or low
    if first:
        return low
    if returned <= 0:
        ideal = float(high)
    else:
        ideal = max(elapsed, 1.0) * target / returned
    return int(min(max(min(ideal, 2 * current), low), high))


def cursors_sync(compiled: list[Compiled], now: datetime) -> dict[str, Cursor]:
    """A cursor for each compiled query (new ones resume from the old cursors of their
    members); the cursors of queries no longer compiled deleted."""
    existing = {c.key: c for c in Cursor.objects.all()}
    wanted = {q.key for q in compiled}
    stale = [c for key, c in existing.items() if key not in wanted]
    for query in compiled:
        if query.key in existing:
            continue
        cursor = Cursor(key=query.key, query=query.query, members=list(query.members))
        olds = [c for c in stale if set(c.members) & set(query.members)]
        if olds and all(c.polled_at is not None for c in olds):
            # Resume: from the oldest place, forwarding what is newer than the oldest
            # creation; due XFEED_POLL_SECONDS after the oldest search.
            since = [c.since_id for c in olds]
            cursor.since_id = None if None in since else min(s for s in since if s is not None)
            cursor.polled_at = min(c.polled_at for c in olds if c.polled_at is not None)
            cursor.created_at = min((c.created_at or now) for c in olds)
            cursor.interval_s = min(c.interval_s for c in olds)  # its traffic, roughly
        else:
            cursor.created_at = now
        Cursor.objects.bulk_create([cursor], ignore_conflicts=True)  # or another poller's
    if stale:
        Cursor.objects.filter(pk__in=[c.pk for c in stale]).delete()
    return {c.key: c for c in Cursor.objects.filter(key__in=wanted)}


def cursor_due(cursor: Cursor, now: datetime) -> bool:
    if cursor.polled_at is None:
        return True
    return cursor.polled_at + timedelta(seconds=cursor.interval_s or poll_seconds()) <= now


def _search(
    *,
    tenant: Tenant,
    reader: XReader,
    query: Compiled,
    cursor: Cursor,
    via: str,
    now: datetime,
    result: PollResult,
) -> None:
    """Search ``query`` from ``cursor`` (every page, or the newest only the first
    time), ingest, then advance the cursor. ReadRefused and X's errors propagate with
    the cursor where it was."""
    first = cursor.polled_at is None
    forward_after = None
    params: dict[str, object] = {"max_results": PAGE_SIZE, **READ_FIELDS}
    if cursor.since_id is not None:
        params["since_id"] = cursor.since_id
    elif cursor.created_at is not None:  # nothing found yet: what predates it is history
        forward_after = cursor.created_at - FIRST_POLL_GRACE
    newest, returned, calls, token = cursor.since_id or 0, 0, 0, None
    while True:
        page = reader.search_recent(
            query.query, now=now, **params, **({"next_token": token} if token else {})
        )
        calls += 1
        result.calls += 1
        posts = posts_from_response(page)
        returned += len(posts)
        newest = max([newest, *(p.post_id for p in posts)])
        result.ingested += posts_ingest(
            tenant=tenant, posts=posts, via=via, now=now, forward_after=forward_after
        )
        token = (page.meta or {}).get("next_token")
        if first or not token:
            break
        if calls >= MAX_PAGES:
            logger.warning(
                "xfeed.poll.truncated",
                extra={"tenant": tenant.slug, "cursor": cursor.key, "pages": calls},
            )
            break
    elapsed = (now - cursor.polled_at).total_seconds() if cursor.polled_at else 0.0
    interval = next_interval(
        current=cursor.interval_s, elapsed=elapsed, returned=returned, first=first
    )
    # GREATEST: a concurrent round (a backfill beside the poll job) never moves it back
    # (and PostgreSQL's GREATEST skips a NULL: a first search sets it).
    Cursor.objects.filter(pk=cursor.pk).update(
        since_id=Greatest(F("since_id"), newest) if newest else F("since_id"),
        polled_at=now,
        interval_s=interval,
    )


def search_counted(result: PollResult, key: str, search: Callable[[], object]) -> bool:
    """Run one query's ``search`` of a round, counted in ``result``; False when the round
    ends there: the budget or the cap refused (``refused``, ``retry_at``) or X failed
    (``errors``), the cursors keeping their place."""
    try:
        search()
    except ReadRefused as exc:
        result.refused, result.retry_at = exc.code, exc.retry_at
        return False
    except (tweepy.TweepyException, requests.RequestException) as exc:
        result.errors.append(f"{key}: {exc}")
        return False
    result.searched += 1
    return True


def cursor_seen(*, tenant: Tenant, key: str, post_id: int) -> bool:
    """The stream delivered ``post_id`` for the compiled query ``key``: the next backfill
    of that query starts after it (never moves a cursor back). Call it only for posts
    received after the last backfill closed the gap before them. False when the query
    has no cursor yet (its first backfill makes one)."""
    community_check(tenant)
    with tenant_context(tenant):
        return bool(
            Cursor.objects.filter(key=key).update(since_id=Greatest(F("since_id"), post_id))
        )


def _reader_for(tenant: Tenant, priority: int) -> XReader | None:
    # The same rule as ``own_app_tenant_ids``: an app bearer token, not a user's token.
    credential = Credential.objects.filter(
        tenant=tenant, kind=Credential.Kind.APP, x_user_id=None
    ).first()
    if credential is None and not settings.X_BEARER_TOKEN:
        return None
    return XReader(tenant=tenant, priority=priority, credential=credential)


def tenant_poll(
    *, tenant: Tenant, now: datetime | None = None, backfill: bool = False
) -> PollResult:
    """One polling round of ``tenant``: its due queries (all of them with ``backfill``),
    forwarding before mentions."""
    community_check(tenant)
    now = now or datetime.now(UTC)
    via = Post.Via.BACKFILL if backfill else Post.Via.POLL
    result = PollResult()
    with tenant_context(tenant):
        compiled = sorted(tenant_queries(), key=lambda q: q.purpose != FORWARD)
        cursors = cursors_sync(compiled, now)
        due = [q for q in compiled if backfill or cursor_due(cursors[q.key], now)]
        if not due:
            return result
        readers: dict[int, XReader | None] = {}
        for query in due:
            priority = Priority.FORWARDING if query.purpose == FORWARD else Priority.MENTIONS
            if priority not in readers:
                readers[priority] = _reader_for(tenant, priority)
            reader = readers[priority]
            if reader is None:
                result.refused = "x_not_configured"
                break
            search = functools.partial(
                _search,
                tenant=tenant,
                reader=reader,
                query=query,
                cursor=cursors[query.key],
                via=via,
                now=now,
                result=result,
            )
            if not search_counted(result, query.key, search):
                break
    logger.info(
        "xfeed.poll",
        extra={
            "tenant": tenant.slug,
            "backfill": backfill,
            "searched": result.searched,
            "calls": result.calls,
            "new": result.ingested.new,
            "forwarded": result.ingested.forwarded,
            "mentioned": result.ingested.mentioned,
            "refused": result.refused,
            "errors": len(result.errors),
        },
    )
    return result
