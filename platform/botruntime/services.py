"""Writes of the bot runtime: durable jobs (enqueue, claim, finish, retry, cancel, the
recurring schedule) and the updates table (received, done, re-run after a crash).

Jobs are rows claimed with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease: any number
of runtimes can poll the table and each due job is handed to exactly one of them. A
runtime that dies mid-job leaves a ``running`` row whose lease expires; the next claim
takes it again (counting the attempt), so jobs survive restarts. Times come from the
database (``statement_timestamp()``), so runtimes on machines with skewed clocks agree on leases.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django_tenants.utils import tenant_context

import history.services as history
from botruntime.models import WAITING, Job, ProcessedUpdate
from config.errors import ServiceError
from config.job_registry import JobKind, job_kinds
from config.prepared import fetch_prepared
from history.services import SYSTEM, Actor
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=15)
BACKOFF_MAX = timedelta(hours=1)
ERROR_MAX_LENGTH = 4000

_ENQUEUE = """
INSERT INTO botruntime_job (kind, tenant_id, payload, status, run_at, attempts, locked_by,
                            last_error, dedupe_key, created_at)
VALUES (%(kind)s, %(tenant)s, %(payload)s::jsonb, 'pending',
        COALESCE(%(run_at)s, statement_timestamp()), 0, '', '', %(dedupe_key)s,
        statement_timestamp())
ON CONFLICT (dedupe_key) WHERE status IN ('pending', 'failed')
DO UPDATE SET run_at = LEAST(botruntime_job.run_at, EXCLUDED.run_at)
RETURNING id
"""


def recurring_key(kind: str, tenant_id: int | None) -> str:
    return f"every:{kind}:{tenant_id if tenant_id is not None else 'platform'}"


def backoff(attempts: int) -> timedelta:
    """Wait before retry number ``attempts`` (1-based): 15 s, 30 s, 1 min, ... ≤ 1 h."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


# ---- enqueue ---------------------------------------------------------------------------
def job_enqueue(
    *,
    kind: str,
    tenant: Tenant | int | None = None,
    payload: dict[str, Any] | None = None,
    run_at: datetime | None = None,
    dedupe_key: str | None = None,
) -> Job:
    """Schedule one run of ``kind`` (at ``run_at``, default now). One statement in the
    caller's transaction: the job exists exactly when the caller's work commits.

    With ``dedupe_key``, a job with that key already waiting (pending, or failed and
    waiting to retry) is returned instead of adding another; it keeps its payload and runs
    at the earlier of the two times."""
    if kind not in job_kinds():
        raise ServiceError(f"unknown job kind {kind!r}", code="unknown_job_kind")
    params = {
        "kind": kind,
        "tenant": getattr(tenant, "pk", tenant),
        "payload": json.dumps(payload or {}),
        "run_at": run_at,
        "dedupe_key": dedupe_key,
    }
    with connection.cursor() as cursor:
        cursor.execute(_ENQUEUE, params)
        (job_id,) = cursor.fetchone()
    return Job.objects.get(pk=job_id)


# ---- claim and finish ------------------------------------------------------------------
def jobs_claim(*, worker: str, limit: int = 1, kinds: Iterable[str] | None = None) -> list[Job]:
    """Take up to ``limit`` due jobs for ``worker``: waiting jobs whose time has come, and
    running jobs whose lease expired (their runtime died). Rows another runtime is
    claiming at the same moment are skipped, never waited for or taken twice."""
    registry = job_kinds()
    names = [k for k in (kinds if kinds is not None else registry) if k in registry]
    if limit < 1 or not names:
        return []
    due = Q(status__in=WAITING, run_at__lte=Now()) | Q(
        status=Job.Status.RUNNING, lease_until__lt=Now()
    )
    with transaction.atomic():
        rows = list(
            Job.objects.select_for_update(skip_locked=True)
            .filter(due, kind__in=names)
            .order_by("run_at", "id")
            .values_list("id", "kind")[:limit]
        )
        for job_id, kind in rows:
            Job.objects.filter(pk=job_id).update(
                status=Job.Status.RUNNING,
                attempts=F("attempts") + 1,
                locked_by=worker[:100],
                started_at=Now(),
                lease_until=Now() + registry[kind].lease,
            )
    claimed = list(Job.objects.select_related("tenant").filter(pk__in=[r[0] for r in rows]))
    claimed.sort(key=lambda j: (j.run_at, j.pk))
    for job in claimed:
        logger.log(
            _routine(registry.get(job.kind)),
            "job.claimed",
            extra={"job": job.pk, "kind": job.kind, "attempt": job.attempts, "worker": worker},
        )
    return claimed


def _routine(kind: JobKind | None) -> int:
    # A recurring job's every run (the history seal runs every 2 s) would bury the log:
    # its claims and successes are debug; failures warn whatever the kind.
    return logging.DEBUG if kind is not None and kind.every is not None else logging.INFO


def _mine(job: Job, worker: str):
    """The row, if ``worker`` still holds it (a lease that expired may have been reclaimed
    by another runtime: then this one's outcome is not recorded)."""
    return Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, locked_by=worker[:100])


def job_renew(*, job: Job, worker: str, lease: timedelta) -> bool:
    """Extend the lease of a job ``worker`` is still running: a job that outlives its
    first lease is not taken for a crashed runtime's and run a second time elsewhere.
    False when the lease was already lost (expired and claimed by another runtime)."""
    renewed = _mine(job, worker).update(lease_until=Now() + lease)
    if not renewed:
        # Either the job just finished (a renewal racing its completion: nothing to say) or
        # another runtime holds it now.
        taken = (
            Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)
            .exclude(locked_by=worker[:100])
            .exists()
        )
        if taken:
            logger.warning(
                "job.lease_lost", extra={"job": job.pk, "kind": job.kind, "worker": worker}
            )
    return bool(renewed)


def _schedule_next(job: Job, kind: JobKind) -> None:
    if kind.every is None:
        return
    job_enqueue(
        kind=job.kind,
        tenant=job.tenant_id,
        payload=job.payload,
        run_at=_db_now() + kind.every,
        dedupe_key=recurring_key(job.kind, job.tenant_id),
    )


def _db_now() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def job_complete(*, job: Job, worker: str) -> bool:
    """Record a successful run (and schedule the next one of a recurring kind)."""
    kind = job_kinds().get(job.kind)
    with transaction.atomic():
        done = _mine(job, worker).update(
            status=Job.Status.DONE, finished_at=Now(), lease_until=None, last_error=""
        )
        if done and kind is not None:
            _schedule_next(job, kind)
    if done:
        logger.log(
            _routine(kind),
            "job.done",
            extra={"job": job.pk, "kind": job.kind, "attempt": job.attempts},
        )
    else:
        logger.warning("job.lease_lost", extra={"job": job.pk, "kind": job.kind, "worker": worker})
    return bool(done)


def job_fail(*, job: Job, worker: str, error: str) -> str:
    """Record a failed attempt: retried after ``backoff(attempts)``; after the kind's
    ``max_attempts`` the job is dead-lettered (and a recurring kind scheduled again).
    Returns the job's new status ("" if another runtime took the job meanwhile)."""
    kind = job_kinds().get(job.kind)
    max_attempts = kind.max_attempts if kind else 1
    error = error[-ERROR_MAX_LENGTH:]
    with transaction.atomic():
        if job.attempts >= max_attempts:
            status = Job.Status.DEAD
            changed = _mine(job, worker).update(
                status=status, finished_at=Now(), lease_until=None, last_error=error
            )
            if changed:
                history.record(
                    action="job.dead",
                    actor=Actor.system("botruntime"),
                    tenant=job.tenant_id,
                    target=("job", job.pk),
                    data={"kind": job.kind, "attempts": job.attempts, "error": error[-500:]},
                )
                if kind is not None:
                    _schedule_next(job, kind)
        else:
            status = Job.Status.FAILED
            changed = _mine(job, worker).update(
                status=status,
                run_at=Now() + backoff(job.attempts),
                lease_until=None,
                last_error=error,
            )
    if not changed:
        logger.warning("job.lease_lost", extra={"job": job.pk, "kind": job.kind, "worker": worker})
        return ""
    log = logger.error if status == Job.Status.DEAD else logger.warning
    log(
        f"job.{status}",
        extra={"job": job.pk, "kind": job.kind, "attempt": job.attempts, "error": error[-500:]},
    )
    return status


def _job_cancel(job: Job, worker: str, reason: str) -> str:
    _mine(job, worker).update(
        status=Job.Status.CANCELLED, finished_at=Now(), lease_until=None, last_error=reason
    )
    logger.info("job.cancelled", extra={"job": job.pk, "kind": job.kind, "reason": reason})
    return Job.Status.CANCELLED


def job_run(*, job: Job, worker: str) -> str:
    """Run a claimed job and record the outcome; returns its new status. ``per_tenant``
    kinds run inside the tenant's schema; a tenant that is no longer active cancels
    the job (its recurring jobs are scheduled again when it is resumed)."""
    kind = job_kinds().get(job.kind)
    if kind is None:
        return job_fail(job=job, worker=worker, error=f"unknown job kind {job.kind!r}")
    if job.attempts > kind.max_attempts:
        # Claimed again after its lease expired at the last attempt: the job keeps taking
        # its runtime down (or outlives its lease). Never run it again automatically.
        return job_fail(
            job=job, worker=worker, error=job.last_error or "lease expired on the last attempt"
        )
    tenant = job.tenant
    if kind.per_tenant and (tenant is None or tenant.is_public):
        return job_fail(job=job, worker=worker, error="a per-tenant job needs a community tenant")
    if kind.every is not None and not kind.per_tenant and tenant is not None:
        # A recurring platform kind has one row, without a tenant; a row with one was left
        # from when the kind ran per community: cancelled, never scheduled again.
        return _job_cancel(job, worker, f"{job.kind} runs once for the platform now")
    if tenant is not None and tenant.status != Tenant.Status.ACTIVE:
        return _job_cancel(job, worker, f"tenant {tenant.slug} is {tenant.status}")
    try:
        if kind.per_tenant:
            with tenant_context(tenant):
                kind.func(tenant=tenant, payload=job.payload)
        else:
            kind.func(tenant=tenant, payload=job.payload)
    except Exception as exc:  # any failure is recorded on the job and retried
        detail = "".join(traceback.format_exception_only(exc)).strip()
        if not isinstance(exc, ServiceError):
            detail = traceback.format_exc()
        return job_fail(job=job, worker=worker, error=detail)
    job_complete(job=job, worker=worker)
    return Job.Status.DONE


# ---- the recurring schedule ------------------------------------------------------------
def jobs_schedule_recurring() -> int:
    """Make sure every recurring kind has one job waiting or running per target (each
    active community for ``per_tenant`` kinds, else the platform); returns how many were
    added. Safe to run from several runtimes at once: the dedupe key admits one."""
    added = 0
    communities: list[int] | None = None
    for name, kind in sorted(job_kinds().items()):
        if kind.every is None:
            continue
        if kind.per_tenant:
            if communities is None:
                communities = list(
                    Tenant.objects.filter(status=Tenant.Status.ACTIVE)
                    .exclude(schema_name="public")
                    .values_list("pk", flat=True)
                )
            targets: list[int | None] = list(communities)
        else:
            targets = [None]
        scheduled = set(
            Job.objects.filter(kind=name, status__in=(*WAITING, Job.Status.RUNNING)).values_list(
                "tenant_id", flat=True
            )
        )
        missing = [t for t in targets if t not in scheduled]
        if missing:
            Job.objects.bulk_create(
                [Job(kind=name, tenant_id=t, dedupe_key=recurring_key(name, t)) for t in missing],
                ignore_conflicts=True,  # another runtime scheduled it first
            )
            added += len(missing)
    if added:
        logger.info("job.recurring_scheduled", extra={"count": added})
    return added


def jobs_prune(*, finished_before: timedelta, dead_before: timedelta) -> int:
    """Delete finished jobs: done and cancelled ones ``finished_before`` ago, dead ones
    (kept longer, for ``jobs list --status dead`` and ``jobs retry``) ``dead_before``."""
    finished = Q(
        status__in=(Job.Status.DONE, Job.Status.CANCELLED),
        finished_at__lt=Now() - finished_before,
    )
    dead = Q(status=Job.Status.DEAD, finished_at__lt=Now() - dead_before)
    deleted, _ = Job.objects.filter(finished | dead).delete()
    if deleted:
        logger.info("job.pruned", extra={"count": deleted})
    return deleted


# ---- operator actions ------------------------------------------------------------------
def job_retry(*, job_id: int, actor: Actor = SYSTEM) -> Job:
    """Run a dead, failed or cancelled job again now, with a fresh set of attempts."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise ServiceError(f"no job with id {job_id}", code="job_not_found", status=404)
        retryable = (Job.Status.DEAD, Job.Status.FAILED, Job.Status.CANCELLED)
        if job.status not in retryable:
            raise ServiceError(
                f"job {job_id} is {job.status}; only dead, failed or cancelled jobs are retried",
                code="job_not_retryable",
                status=409,
            )
        if (
            job.dedupe_key
            and Job.objects.filter(dedupe_key=job.dedupe_key, status__in=WAITING)
            .exclude(pk=job.pk)
            .exists()
        ):
            raise ServiceError(
                f"job {job_id}: another job with key {job.dedupe_key!r} is already waiting",
                code="job_duplicate",
                status=409,
            )
        previous = job.status
        job.status = Job.Status.PENDING
        job.attempts = 0
        job.run_at = _db_now()
        job.lease_until = None
        job.finished_at = None
        job.save(update_fields=["status", "attempts", "run_at", "lease_until", "finished_at"])
        history.record(
            action="job.retried",
            actor=actor,
            tenant=job.tenant_id,
            target=("job", job.pk),
            data={"kind": job.kind, "from": previous},
        )
    return job


def job_cancel(*, job_id: int, actor: Actor = SYSTEM) -> Job:
    """Cancel a job that has not run yet (pending, or failed and waiting to retry)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise ServiceError(f"no job with id {job_id}", code="job_not_found", status=404)
        if job.status not in WAITING:
            raise ServiceError(
                f"job {job_id} is {job.status}; only pending or failed jobs can be cancelled",
                code="job_not_cancellable",
                status=409,
            )
        previous = job.status
        job.status = Job.Status.CANCELLED
        job.finished_at = _db_now()
        job.save(update_fields=["status", "finished_at"])
        history.record(
            action="job.cancelled",
            actor=actor,
            tenant=job.tenant_id,
            target=("job", job.pk),
            data={"kind": job.kind, "from": previous},
        )
    return job


# ---- updates ---------------------------------------------------------------------------
# A re-run that fails this many times (the process dies inside the handler each time) is
# given up: logged and marked dropped, so one poisonous update cannot crash-loop a bot.
UPDATE_ATTEMPTS = 3

Accepted = tuple[int, int, str | None]  # (bot_id, update_id, the update's JSON)


def update_accept(
    *, bot_id: int, update_id: int, payload: str | None = None, lease: timedelta | None = None
) -> bool:
    """Record that ``bot_id`` received ``update_id``; False when it already had it (a
    redelivery). Raises the database's error when it cannot record it, so the caller
    can tell Telegram to deliver the update again later."""
    return updates_accept(updates=[(bot_id, update_id, payload)], lease=lease)[0]


_UPDATES_ACCEPT = """
INSERT INTO botruntime_processedupdate
       (bot_id, update_id, received_at, status, payload, lease_until, attempts)
SELECT DISTINCT ON (bot_id, update_id) bot_id, update_id, statement_timestamp(), 'received',
       payload, statement_timestamp() + $1 * interval '1 second', 1
  FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS u (bot_id, update_id, payload)
ON CONFLICT (bot_id, update_id) DO NOTHING
RETURNING bot_id, update_id
"""
# Prepared once per connection: on the hot path, planning cost more than the insert of a
# small batch (config.prepared).
_UPDATES_ACCEPT_TYPES = ("float8", "bigint[]", "bigint[]", "text[]")


def _lease(lease: timedelta | None) -> float:
    """Seconds of an update's lease (default: ``BOT_UPDATE_LEASE_S``)."""
    return lease.total_seconds() if lease is not None else settings.BOT_UPDATE_LEASE_S


def updates_accept(*, updates: list[Accepted], lease: timedelta | None = None) -> list[bool]:
    """``update_accept`` for many (bot_id, update_id, payload) in one statement: True for
    each update seen for the first time (only its first occurrence, if listed twice). A
    first sighting is ``received`` under a lease (``BOT_UPDATE_LEASE_S``) until
    ``updates_done``."""
    if not updates:
        return []
    rows = fetch_prepared(
        "botruntime_updates_accept",
        _UPDATES_ACCEPT,
        _UPDATES_ACCEPT_TYPES,
        [
            _lease(lease),
            [b for b, _, _ in updates],
            [u for _, u, _ in updates],
            [p for _, _, p in updates],
        ],
        many=True,
    )
    fresh = set(rows)
    accepted = []
    for bot_id, update_id, _ in updates:
        accepted.append((bot_id, update_id) in fresh)
        fresh.discard((bot_id, update_id))
    return accepted


_UPDATES_DONE = """
UPDATE botruntime_processedupdate AS p
   SET status = 'done', payload = NULL, lease_until = NULL
  FROM unnest(%s::bigint[], %s::bigint[]) AS u (bot_id, update_id)
 WHERE p.bot_id = u.bot_id AND p.update_id = u.update_id AND p.status = 'received'
"""


def updates_done(*, updates: list[tuple[int, int]]) -> int:
    """Mark (bot_id, update_id) pairs handled, in the caller's transaction: the runtime
    calls it in the transaction that writes what their handlers buffered, a handler with a
    non-idempotent write in that write's transaction (``botruntime.context.
    in_tenant_once``). A row already done is left as it is. Returns the rows marked."""
    if not updates:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(_UPDATES_DONE, [[b for b, _ in updates], [u for _, u in updates]])
        return cursor.rowcount


_UPDATES_RENEW = """
UPDATE botruntime_processedupdate AS p
   SET lease_until = statement_timestamp() + %s * interval '1 second'
  FROM unnest(%s::bigint[], %s::bigint[]) AS u (bot_id, update_id)
 WHERE p.bot_id = u.bot_id AND p.update_id = u.update_id AND p.status = 'received'
"""


def updates_renew(*, updates: list[tuple[int, int]], lease: timedelta | None = None) -> int:
    """Extend the lease of updates a live runtime still holds (queued or in a handler), so
    no runtime takes them for a dead one's and runs them twice."""
    if not updates:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            _UPDATES_RENEW, [_lease(lease), [b for b, _ in updates], [u for _, u in updates]]
        )
        return cursor.rowcount


_UPDATES_RECLAIM = """
UPDATE botruntime_processedupdate AS p
   SET attempts = p.attempts + 1,
       lease_until = statement_timestamp() + %(lease)s * interval '1 second',
       status = CASE WHEN p.attempts >= %(max)s THEN 'dropped' ELSE 'received' END,
       payload = CASE WHEN p.attempts >= %(max)s THEN NULL ELSE p.payload END
  FROM (SELECT id FROM botruntime_processedupdate
         WHERE status = 'received' AND lease_until < statement_timestamp()
           AND bot_id = ANY(%(bots)s::bigint[])
         ORDER BY bot_id, update_id
         LIMIT %(limit)s
           FOR UPDATE SKIP LOCKED) AS due
 WHERE p.id = due.id
RETURNING p.bot_id, p.update_id, p.status, p.attempts, p.payload
"""


def updates_reclaim(
    *, bot_ids: list[int], lease: timedelta | None = None, limit: int = 1000
) -> list[tuple[int, int, dict[str, Any]]]:
    """Take the ``received`` updates of ``bot_ids`` whose lease ran out (the runtime that
    accepted them died before their handlers finished) to run them again, in update order,
    under a new lease. One that already ran ``UPDATE_ATTEMPTS`` times is dropped instead.
    Rows another runtime is taking at the same moment are skipped."""
    if not bot_ids:
        return []
    params: dict[str, Any] = {
        "lease": _lease(lease),
        "max": UPDATE_ATTEMPTS,
        "bots": bot_ids,
        "limit": limit,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_UPDATES_RECLAIM, params)
        rows = cursor.fetchall()
    again = []
    for bot_id, update_id, status, attempts, payload in sorted(rows, key=lambda r: r[:2]):
        extra = {"bot_id": bot_id, "update_id": update_id, "attempt": attempts}
        if status == ProcessedUpdate.Status.DROPPED:
            logger.error("botruntime.update_dropped", extra=extra)
            continue
        logger.warning("botruntime.update_rerun", extra=extra)
        again.append((bot_id, update_id, json.loads(payload)))
    return again


def updates_prune(*, older_than: timedelta) -> int:
    """Forget updates received longer ago than ``older_than`` (Telegram keeps undelivered
    updates for 24 hours, so older ones can no longer come back)."""
    deleted, _ = ProcessedUpdate.objects.filter(received_at__lt=Now() - older_than).delete()
    if deleted:
        logger.info("botruntime.updates_pruned", extra={"count": deleted})
    return deleted


def updates_forget(*, bot_id: int) -> int:
    """Forget every update ``bot_id`` received: for a Telegram that starts its numbering
    over (a fresh sandbox Telegram under ``make run``), else its first updates would be
    taken for redeliveries."""
    deleted, _ = ProcessedUpdate.objects.filter(bot_id=bot_id).delete()
    return deleted
