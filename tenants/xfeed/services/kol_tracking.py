"""Tracking KOLs' posts on X: discover each active KOL's new posts, then take engagement
snapshots of each post on a schedule, all at ``Priority.KOL_METRICS`` (the lowest: it
yields X's windows to raids, forwarding and mentions).

- **Discovery**: ``GET /2/users/:id/tweets`` from the newest post known of the KOL
  (``since_id``); the first time, the last ``TRACK_FOR`` only (older posts are past their
  schedule). Reposts are not the KOL's posts and are skipped; replies and quotes count.
  The timeline's ``public_metrics`` are stored as the post's first snapshot (already paid
  for).
- **Campaigns**: a post counts for each of its KOL's campaign tags that appears in its
  text as a whole word, #hashtag or $cashtag, case-insensitively (``launch`` matches
  "#Launch" and "launch day", not "launches").
- **Snapshots**: at ``SCHEDULE`` after the post (+1 h, +6 h, +24 h, +72 h, +7 d), by
  ``GET /2/tweets?ids=`` of up to 100 due posts per call; ``next_snapshot_at`` is the
  next point still ahead (a late round takes one snapshot, not one per missed point) and
  None past ``tracked_until``. Impressions are null when X does not return them. A post X
  no longer returns (deleted, protected) stops being tracked.
- **Followers**: once per UTC day per active KOL, the follower count (``GET /2/users?ids=``
  of up to 100 KOLs per call, a user read each), stored as that day's ``KolFollowers``;
  reports measure follower growth from these readings. It comes last in a round: a
  follower count is worth less than a post's engagement.
- **Within the budget**: every read is counted and billed at ``now`` (a simulated clock's
  time in tests and benchmarks); a read the budget or the tenant's cap refuses (``ReadRefused``)
  ends the round; the state only moves forward after a read succeeded, so whatever was
  due stays due for the next round and nothing is lost.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenancy.models import Tenant
from xclient.models import Priority
from xclient.reader import ReadRefused, XReader
from xfeed.models import Kol, KolFollowers, KolPost, KolSnapshot

logger = logging.getLogger(__name__)

SCHEDULE = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
    timedelta(hours=72),
    timedelta(days=7),
)
TRACK_FOR = SCHEDULE[-1]
LOOKUP_BATCH = 100  # X's limit on ids per GET /2/tweets
TIMELINE = "GET /2/users/:id/tweets"
LOOKUP = "GET /2/tweets"
TIMELINE_FIELDS = ["created_at", "entities", "public_metrics"]
MAX_TIMELINE_PAGES = 5  # 500 new posts of one KOL per round; the rest next round
MAX_DUE = 10_000  # snapshots per round (100 reads); the rest stay due for the next


@dataclass
class TrackResult:
    discovered: int = 0
    snapshots: int = 0
    followers: int = 0  # follower readings taken
    refused: str = ""  # the ReadRefused code that ended the round early
    retry_at: datetime | None = None


def campaigns_of(text: str, campaigns: list[str]) -> list[str]:
    """The tags of ``campaigns`` that ``text`` names (see the module's docstring)."""
    found = []
    for tag in campaigns:
        if re.search(rf"(?<![a-z0-9_]){re.escape(tag)}(?![a-z0-9_])", text, re.IGNORECASE):
            found.append(tag)
    return found


def next_snapshot(created_at: datetime, now: datetime) -> datetime | None:
    """The first schedule point after ``now``; None when the schedule is over."""
    return next((created_at + step for step in SCHEDULE if created_at + step > now), None)


def _metrics(post: Any) -> dict[str, int | None]:
    metrics = getattr(post, "public_metrics", None) or {}
    impressions = metrics.get("impression_count")
    return {
        "likes": int(metrics.get("like_count", 0)),
        "reposts": int(metrics.get("retweet_count", metrics.get("repost_count", 0))),
        "replies": int(metrics.get("reply_count", 0)),
        "quotes": int(metrics.get("quote_count", 0)),
        "impressions": None if impressions is None else int(impressions),
    }


def _snapshot(post: KolPost, metrics: dict[str, int | None], now: datetime) -> bool:
    """Store one snapshot (once per post and time: a job run twice stores it once)."""
    try:
        with transaction.atomic():
            KolSnapshot.objects.create(post=post, taken_at=now, **metrics)
    except IntegrityError:
        return False
    return True


def _discover(reader: XReader, kol: Kol, now: datetime) -> int:
    newest = kol.posts.order_by("-post_id").values_list("post_id", flat=True).first()
    params: dict[str, Any] = {
        "id": kol.x_user_id,
        "exclude": ["retweets"],
        "max_results": 100,
        "tweet_fields": TIMELINE_FIELDS,
    }
    if newest is not None:
        params["since_id"] = newest
    else:
        params["start_time"] = now - TRACK_FOR
    stored = 0
    for _ in range(MAX_TIMELINE_PAGES):
        page = reader.read(TIMELINE, "get_users_tweets", now=now, **params)
        for item in page.data or []:
            created_at = item.created_at or now
            with transaction.atomic():
                post, created = KolPost.objects.get_or_create(
                    post_id=int(item.id),
                    defaults={
                        "kol": kol,
                        "text": item.text,
                        "campaigns": campaigns_of(item.text, list(kol.campaigns)),
                        "created_at": created_at,
                        "tracked_until": created_at + TRACK_FOR,
                        "next_snapshot_at": next_snapshot(created_at, now),
                    },
                )
                if created:
                    stored += 1
                    _snapshot(post, _metrics(item), now)
        token = (page.meta or {}).get("next_token")
        if not token:
            break
        params["pagination_token"] = token
    return stored


def _snapshots(reader: XReader, now: datetime) -> int:
    """Every post due at ``now``, each read once this round (listed first, then read 100
    at a time): however the schedule moves, a round ends."""
    due = list(
        KolPost.objects.filter(next_snapshot_at__lte=now, kol__is_active=True)
        .order_by("next_snapshot_at", "post_id")
        .values_list("pk", flat=True)[:MAX_DUE]
    )
    taken = 0
    for start in range(0, len(due), LOOKUP_BATCH):
        batch = list(KolPost.objects.filter(pk__in=due[start : start + LOOKUP_BATCH]))
        answer = reader.read(
            LOOKUP,
            "get_tweets",
            now=now,
            ids=[p.post_id for p in batch],
            tweet_fields=["public_metrics"],
        )
        returned = {int(item.id): item for item in answer.data or []}
        with transaction.atomic():
            for post in batch:
                item = returned.get(post.post_id)
                if item is not None and _snapshot(post, _metrics(item), now):
                    taken += 1
                post.next_snapshot_at = (
                    next_snapshot(post.created_at, now) if item is not None else None
                )
                post.save(update_fields=["next_snapshot_at"])
        gone = [p.post_id for p in batch if p.post_id not in returned]
        if gone:
            logger.info("xfeed.kol.posts_gone", extra={"post_ids": gone})
    return taken


def _followers(reader: XReader, now: datetime) -> int:
    """Today's follower count of each active KOL that has none yet (100 per read)."""
    today = now.astimezone(UTC).date()
    due = list(
        Kol.objects.filter(is_active=True)
        .exclude(follower_readings__day=today)
        .order_by("pk")
        .values_list("pk", "x_user_id")
    )
    taken = 0
    for start in range(0, len(due), LOOKUP_BATCH):
        batch = dict(due[start : start + LOOKUP_BATCH])
        answer = reader.users(list(batch.values()), user_fields=["public_metrics"], now=now)
        kol_of = {x_user_id: pk for pk, x_user_id in batch.items()}
        readings = [
            KolFollowers(
                kol_id=kol_of[int(user.id)],
                day=today,
                followers=int((user.public_metrics or {}).get("followers_count", 0)),
                taken_at=now,
            )
            for user in answer.data or []
            if int(user.id) in kol_of
        ]
        # A job run twice the same day keeps the first reading.
        taken += len(KolFollowers.objects.bulk_create(readings, ignore_conflicts=True))
    return taken


def kol_track(*, tenant: Tenant, now: datetime | None = None) -> TrackResult:
    """One round for ``tenant``: discovery for each active KOL, then every due snapshot."""
    now = now or timezone.now()
    result = TrackResult()
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS)
    with tenant_context(tenant):
        try:
            for kol in list(Kol.objects.filter(is_active=True)):
                result.discovered += _discover(reader, kol, now)
            result.snapshots = _snapshots(reader, now)
            result.followers = _followers(reader, now)
        except ReadRefused as refused:
            result.refused, result.retry_at = refused.code, refused.retry_at
    logger.info(
        "xfeed.kol.tracked",
        extra={
            "tenant": tenant.slug,
            "discovered": result.discovered,
            "snapshots": result.snapshots,
            "followers": result.followers,
            "refused": result.refused,
        },
    )
    return result
