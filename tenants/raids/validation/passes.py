"""A validation pass over one raid: read each task's evidence (``evidence``) for the
participants still pending on it, then write every result, the participants' points, the
raid's counter and ``validated_at`` in one transaction of a few set-based statements.

During the raid a pass only reads what is new: X lists newest first, and an account or
post an earlier complete pass verified marks where that pass read from, so a pass stops
there, unless someone pending joined after that pass (their work may be older: a full
read). The state is the verified results themselves; nothing else is stored. The final
pass (after ``ends_at + grace_seconds``) always reads in full, and only it turns "not
found" into ``failed``. A refusal of X (budget, cap, 429, errors) or Telegram leaves the
task's results pending, never verified unchecked."""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from history.models import Entry
from history.services import SYSTEM, Actor, record
from raids.models import Participant, Raid, Result, Task
from raids.services.fraud import fraud_scan
from raids.services.lifecycle import raid_close
from raids.services.participation import participants_notify_progress
from raids.services.schedule import (
    final_pass_at,
    raid_finish_schedule,
    raid_validation_schedule,
)
from raids.validation import evidence
from tenancy.models import Tenant
from tenancy.selectors import chat_binding_get, tenant_bots
from xclient.models import Priority
from xclient.reader import LinkReader, XReader
from xclient.selectors import link_history_of

logger = logging.getLogger(__name__)

CONTINUOUS_PRIORITY = Priority.KOL_METRICS  # at most half a window: room for the rest
FINAL_PRIORITY = Priority.VALIDATION  # the whole window: results are due
SEARCH_WINDOW = timedelta(days=7)  # recent search sees the last 7 days only
OPEN = (Raid.Status.ACTIVE, Raid.Status.VALIDATING)


@dataclass
class ValidationPass:
    """What one pass did: calls made (and per endpoint), results it decided, results
    still pending after it, and the refusals that left tasks pending."""

    raid_id: int
    final: bool
    calls: int = 0
    calls_by_endpoint: dict[str, int] = field(default_factory=dict)
    verified: int = 0
    unverifiable: int = 0
    failed: int = 0
    pending: int = 0
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "raid_id": self.raid_id,
            "final": self.final,
            "calls": self.calls,
            "calls_by_endpoint": self.calls_by_endpoint,
            "verified": self.verified,
            "unverifiable": self.unverifiable,
            "failed": self.failed,
            "pending": self.pending,
            "refused": self.refused,
        }


def raid_not_open(raid_id: int) -> ServiceError:
    return ServiceError(
        f"raid {raid_id} is not being validated (scheduled, settled or cancelled)",
        code="raid_not_open",
        status=409,
    )


@dataclass
class _Who:
    pk: int
    user_id: int
    x_user_id: int
    role: str
    joined_at: datetime


def _bot_token(tenant: Tenant, chat_id: int) -> str:
    """The token of the bot bound to the raid's group (else any of the tenant's bots)."""
    tokens = dict(tenant_bots(tenant=tenant))
    binding = chat_binding_get(tenant=tenant, chat_id=chat_id)
    bound = binding.bot.telegram_id if binding is not None and binding.bot is not None else None
    return (tokens.get(bound) if bound is not None else "") or next(
        (t for t in tokens.values() if t), ""
    )


def _fetch(
    *,
    tenant: Tenant,
    raid: Raid,
    task: Task,
    wanted: dict[int, _Who],
    reader: XReader,
    verified_evidence: list[dict[str, Any]],
    verified_keys: frozenset[int],
    incremental: bool,
    until: datetime,
) -> evidence.Found:
    """The evidence of one task for ``wanted`` (key -> participant)."""
    keys = set(wanted)
    kind = task.kind
    newest = max((int(e.get("post_id", 0)) for e in verified_evidence), default=0)
    if kind == Task.Kind.REPOST:
        stop = verified_keys if incremental else frozenset()
        return evidence.reposts(reader, post_id=raid.post_id, wanted=keys, stop_at=stop)
    if kind == Task.Kind.QUOTE:
        return evidence.quotes(
            reader,
            post_id=raid.post_id,
            wanted=keys,
            params=task.params,
            until=until,
            stop_below=newest if incremental else 0,
        )
    if kind == Task.Kind.REPLY:
        return evidence.replies(
            reader,
            post_id=raid.post_id,
            wanted=keys,
            params=task.params,
            until=until,
            since_id=newest if incremental else 0,
        )
    if kind == Task.Kind.LIKE:
        return evidence.likes(
            reader, post_id=raid.post_id, wanted=keys, owned=_like_readers(tenant, reader, wanted)
        )
    if kind == Task.Kind.FOLLOW:
        stop = verified_keys if incremental else frozenset()
        target = int(task.params.get("x_user_id") or 0)
        return evidence.follows(reader, target_id=target, wanted=keys, stop_at=stop)
    if kind == Task.Kind.JOIN:
        chat_id = int(task.params.get("chat_id") or 0)
        return evidence.joins(token=_bot_token(tenant, raid.chat_id), chat_id=chat_id, wanted=keys)
    raise ValueError(f"unknown task kind {kind}")


def _like_readers(
    tenant: Tenant, reader: XReader, wanted: dict[int, _Who]
) -> Callable[[set[int]], dict[int, LinkReader]]:
    """For the accounts past liking_users' cap: a reader with each one's own token, when
    the participant's active X link is that account and holds ``like.read``."""

    def readers(accounts: set[int]) -> dict[int, LinkReader]:
        who = {account: wanted[account] for account in accounts}
        links = link_history_of(telegram_ids=[w.user_id for w in who.values()], x_user_ids=[])
        return {
            link.x_user_id: LinkReader(tenant=tenant, priority=reader.priority, link=link)
            for link in links
            if link.x_user_id in who
            and link.user.telegram_id == who[link.x_user_id].user_id
            and evidence.link_reads_likes(link)
        }

    return readers


def raid_validate(
    *,
    tenant: Tenant,
    raid: Raid,
    final: bool,
    now: datetime | None = None,
    priority: int | None = None,
    actor: Actor = SYSTEM,
) -> ValidationPass:
    """One pass over ``raid`` (see the module's doc); ``final``: the pass at the end of
    the grace window, which fails what was not found. Returns its counts."""
    now = now or timezone.now()
    if priority is None:
        priority = FINAL_PRIORITY if final else CONTINUOUS_PRIORITY
    reader = XReader(tenant=tenant, priority=priority)
    with tenant_context(tenant):
        raid = Raid.objects.get(pk=raid.pk)
        if raid.status not in OPEN:
            raise raid_not_open(raid.pk)
        outcome = ValidationPass(raid_id=raid.pk, final=final)
        tasks = list(raid.tasks.all())
        people = [
            _Who(*row)
            for row in Participant.objects.filter(raid=raid).values_list(
                "pk", "user_id", "x_user_id", "role", "joined_at"
            )
        ]
        decided: set[tuple[int, int]] = set()
        verified_of: dict[int, list[tuple[int, dict[str, Any]]]] = {t.pk: [] for t in tasks}
        rows = Result.objects.filter(task__raid=raid).exclude(status=Result.Status.PENDING)
        by_pk = {p.pk: p for p in people}
        for participant_id, task_id, status, proof in rows.values_list(
            "participant_id", "task_id", "status", "evidence"
        ):
            decided.add((participant_id, task_id))
            if status == Result.Status.VERIFIED:
                who = by_pk[participant_id]
                verified_of[task_id].append((who.x_user_id, proof or {}))
        until = final_pass_at(raid)
        writes: list[tuple[int, int, str, dict[str, Any] | None, bool]] = []
        calls: Counter[str] = Counter()
        for task in tasks:
            by_key = {
                (p.user_id if task.kind == Task.Kind.JOIN else p.x_user_id): p
                for p in people
                if p.role == task.role and (p.pk, task.pk) not in decided
            }
            if not by_key:
                continue
            incremental = (
                not final
                and raid.validated_at is not None
                and all(p.joined_at < raid.validated_at for p in by_key.values())
            )
            found = _fetch(
                tenant=tenant,
                raid=raid,
                task=task,
                wanted=by_key,
                reader=reader,
                verified_evidence=[e for _, e in verified_of[task.pk]],
                verified_keys=frozenset(k for k, _ in verified_of[task.pk]),
                incremental=incremental,
                until=until,
            )
            calls.update(found.calls)
            if found.refused:
                outcome.refused.append(f"{task.kind}:{found.refused}")
            for code in sorted(set(found.undecided.values())):
                outcome.refused.append(f"{task.kind}:{code}")
            # Replies older than recent search's 7 days are out of its sight.
            blind = task.kind == Task.Kind.REPLY and raid.starts_at < now - SEARCH_WINDOW
            for key, who in by_key.items():
                writes.append(_decide(task, key, who, found, final=final, blind=blind))
        outcome.calls_by_endpoint = dict(calls)
        outcome.calls = sum(calls.values())
        _write(tenant=tenant, raid=raid, writes=writes, outcome=outcome, now=now, actor=actor)
    logger.info("raids.validation_pass", extra={"tenant_id": tenant.pk, **outcome.as_dict()})
    return outcome


def _decide(
    task: Task, key: int, who: _Who, found: evidence.Found, *, final: bool, blind: bool
) -> tuple[int, int, str, dict[str, Any] | None, bool]:
    """(participant, task, status, evidence, checked) for one pending result."""
    checked = not found.refused
    if key in found.undecided:  # X refused to read this account's own likes: not now
        return who.pk, task.pk, Result.Status.PENDING, None, False
    if key in found.verified:
        return who.pk, task.pk, Result.Status.VERIFIED, found.verified[key], True
    if key in found.unverifiable and final:
        return who.pk, task.pk, Result.Status.UNVERIFIABLE, found.unverifiable[key], True
    if final and found.complete and not found.refused:
        if blind:
            proof = {"via": "search_recent", "reason": "older_than_7_days"}
            return who.pk, task.pk, Result.Status.UNVERIFIABLE, proof, True
        proof = found.rejected.get(key) or {"via": task.kind, "reason": "not_found"}
        return who.pk, task.pk, Result.Status.FAILED, proof, True
    return who.pk, task.pk, Result.Status.PENDING, found.rejected.get(key), checked


# Only a pending result changes: a pass that ran meanwhile, or an admin, decided the rest.
_UPSERT = """
INSERT INTO raids_result (participant_id, task_id, status, evidence, checked_at, verified_at)
SELECT p, t, s, COALESCE(e, '{}'::jsonb), CASE WHEN c THEN %(now)s END,
       CASE WHEN s = 'verified' THEN %(now)s::timestamptz END
FROM unnest(%(p)s::bigint[], %(t)s::bigint[], %(s)s::text[], %(e)s::jsonb[], %(c)s::bool[])
     AS w(p, t, s, e, c)
ON CONFLICT (participant_id, task_id) DO UPDATE SET
    status = EXCLUDED.status,
    evidence = CASE WHEN EXCLUDED.evidence = '{}'::jsonb THEN raids_result.evidence
                    ELSE EXCLUDED.evidence END,
    checked_at = COALESCE(EXCLUDED.checked_at, raids_result.checked_at),
    verified_at = EXCLUDED.verified_at
WHERE raids_result.status = 'pending'
RETURNING participant_id, status
"""


def _write(
    *,
    tenant: Tenant,
    raid: Raid,
    writes: list[tuple[int, int, str, dict[str, Any] | None, bool]],
    outcome: ValidationPass,
    now: datetime,
    actor: Actor,
) -> None:
    with transaction.atomic():
        # One pass writes at a time per raid (the row lock orders them).
        locked = Raid.objects.select_for_update().get(pk=raid.pk)
        if locked.status not in OPEN:
            raise raid_not_open(raid.pk)
        changed: Counter[str] = Counter()
        if writes:
            params: dict[str, Any] = {
                "now": now,
                "p": [w[0] for w in writes],
                "t": [w[1] for w in writes],
                "s": [str(w[2]) for w in writes],
                "e": [json.dumps(w[3]) if w[3] else None for w in writes],
                "c": [w[4] for w in writes],
            }
            with connection.cursor() as cursor:
                cursor.execute(_UPSERT, params)
                returned = cursor.fetchall()
            changed.update(status for _, status in returned)
            # During the raid, who had a task confirmed hears where they stand; the
            # final pass's outcome reaches everyone with the results.
            if not outcome.final:
                confirmed = {pk for pk, status in returned if status == Result.Status.VERIFIED}
                participants_notify_progress(
                    tenant=tenant, raid=locked, participant_ids=confirmed, pass_id=now.isoformat()
                )
        outcome.verified = changed[Result.Status.VERIFIED]
        outcome.unverifiable = changed[Result.Status.UNVERIFIABLE]
        outcome.failed = changed[Result.Status.FAILED]
        _score(locked)
        counts = Result.objects.filter(task__raid=locked).aggregate(
            verified=Count("pk", filter=Q(status=Result.Status.VERIFIED)),
            pending=Count("pk", filter=Q(status=Result.Status.PENDING)),
        )
        outcome.pending = counts["pending"]
        fields: dict[str, Any] = {"verified_count": counts["verified"]}
        if not outcome.refused:
            fields["validated_at"] = now  # a complete pass: later passes may stop at its marks
        Raid.objects.filter(pk=locked.pk).update(**fields)
        if outcome.verified or outcome.unverifiable or outcome.failed or outcome.final:
            record(
                action="raids.raid_validated",
                actor=actor,
                tenant=tenant,
                target=("raid", locked.pk),
                data={k: v for k, v in outcome.as_dict().items() if k != "raid_id"},
            )


def _score(raid: Raid) -> None:
    """Each participant's points: the sum over their scoring results (verified, and
    unverifiable when the raid says these score); excluded participants score nothing."""
    scoring = Q(status=Result.Status.VERIFIED)
    if raid.unverifiable_scores:
        scoring |= Q(status=Result.Status.UNVERIFIABLE)
    points = (
        Result.objects.filter(scoring, participant=OuterRef("pk"))
        .order_by()
        .values("participant")
        .annotate(total=Sum("task__points"))
        .values("total")
    )
    total = Coalesce(Subquery(points, output_field=IntegerField()), Value(0))
    Participant.objects.filter(raid=raid, status=Participant.Status.ACTIVE).update(points=total)
    Participant.objects.filter(raid=raid, status=Participant.Status.EXCLUDED).exclude(
        points=0
    ).update(points=0)


# ---- scheduling: continuous passes, the final one ------------------------------------------


def validate_every() -> timedelta:
    """``RAIDS_VALIDATE_EVERY_SECONDS`` (default 5 minutes): a 10,000-participant raid
    needs ~60 retweeted_by pages of X's 75 a window for a full read; passes during the
    raid read what is new (a page or two) at the lowest priority, leaving the window to
    forwarding, mentions and the final pass. The demo of ``make run`` passes often."""
    return timedelta(seconds=settings.RAIDS_VALIDATE_EVERY_SECONDS)


RETRY_REFUSED = timedelta(minutes=1)  # a final pass X refused: again soon, within budget
# How long after the final pass's time X may keep refusing before what it never answered
# becomes ``unverifiable`` (the raid's ``unverifiable_scores`` says whether it scores) and
# the raid is settled: results cannot wait for X forever.
GIVE_UP_AFTER = timedelta(hours=6)


def raid_validation_run(
    *, tenant: Tenant, raid_id: int, now: datetime | None = None
) -> ValidationPass | None:
    """What the job does: a pass (the final one once the grace window is over), the
    anti-fraud scan over what it found, then the next run scheduled, or, once the final
    pass left nothing pending, the raid's finish (settlement and results). An ended raid
    moves to ``validating``. None: nothing to do now."""
    now = now or timezone.now()
    with tenant_context(tenant):
        raid = Raid.objects.filter(pk=raid_id).first()
        if raid is None or raid.status not in (*OPEN, Raid.Status.SCHEDULED):
            return None
        if raid.status == Raid.Status.SCHEDULED or now < raid.starts_at:
            raid_validation_schedule(
                tenant=tenant, raid=raid, at=max(raid.starts_at, now + validate_every())
            )
            return None
        if now >= raid.ends_at:
            raid = raid_close(tenant=tenant, raid_id=raid.pk, now=now) or raid
        final = now >= final_pass_at(raid)
        done = raid_validate(tenant=tenant, raid=raid, final=final, now=now)
        fraud_scan(tenant=tenant, raid=raid, now=now)
        if final and done.pending and now >= final_pass_at(raid) + GIVE_UP_AFTER:
            done.pending = _give_up(tenant=tenant, raid=raid, now=now)
        if final and done.pending == 0:
            with transaction.atomic():
                raid_finish_schedule(tenant=tenant, raid=raid)
            return done
        retry = RETRY_REFUSED if final else validate_every()
        raid_validation_schedule(tenant=tenant, raid=raid, at=now + retry)
        return done


def _give_up(*, tenant: Tenant, raid: Raid, now: datetime) -> int:
    """What X never answered becomes ``unverifiable`` (never verified unchecked); returns
    what is still pending (0)."""
    with transaction.atomic():
        locked = Raid.objects.select_for_update().get(pk=raid.pk)
        left = Result.objects.filter(task__raid=locked, status=Result.Status.PENDING).update(
            status=Result.Status.UNVERIFIABLE,
            evidence={"reason": "x_unavailable"},
            checked_at=now,
        )
        _score(locked)
        record(
            action="raids.validation_given_up",
            tenant=tenant,
            target=("raid", locked.pk),
            data={"unverifiable": left},
        )
    return 0


# ---- on demand -------------------------------------------------------------------------------
ON_DEMAND_EVERY = timedelta(seconds=60)  # per raid: each pass can cost dozens of X calls
REQUESTED = "raids.validation_requested"


class ValidationThrottled(ServiceError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"this raid was validated on demand moments ago; try again in {retry_after} s",
            code="validation_throttled",
            status=429,
        )
        self.retry_after = retry_after


def raid_validate_on_demand(
    *,
    tenant: Tenant,
    raid_id: int,
    actor: Actor,
    request: Any = None,
    now: datetime | None = None,
) -> ValidationPass:
    """An admin's pass now (never the final one: the job makes that), at most one per
    ON_DEMAND_EVERY per raid: the request is recorded under the raid's row lock, and a
    second one within the interval is refused with ``retry_after``."""
    now = now or timezone.now()
    with tenant_context(tenant):
        with transaction.atomic():
            raid = Raid.objects.select_for_update().filter(pk=raid_id).first()
            if raid is None:
                raise ServiceError(f"no raid {raid_id} here", code="raid_not_found", status=404)
            if raid.status not in OPEN:
                raise raid_not_open(raid.pk)
            last = (
                Entry.objects.filter(
                    tenant=tenant,
                    action=REQUESTED,
                    target_type="raid",
                    target_id=str(raid.pk),
                )
                .order_by("-id")
                .values_list("created_at", flat=True)
                .first()
            )
            if last is not None and now - last < ON_DEMAND_EVERY:
                wait = ON_DEMAND_EVERY - (now - last)
                raise ValidationThrottled(max(1, math.ceil(wait.total_seconds())))
            record(
                action=REQUESTED,
                actor=actor,
                tenant=tenant,
                target=("raid", raid.pk),
                request=request,
            )
        return raid_validate(
            tenant=tenant, raid=raid, final=False, now=now, priority=FINAL_PRIORITY, actor=actor
        )
