"""The bot runtime's tables (public schema): durable jobs, and the updates already seen."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

# Statuses whose rows still wait to run: a dedupe key is unique among them.
WAITING = ("pending", "failed")


class Job(models.Model):
    """One run of a job kind (``config.job_registry``). Claimed with ``SELECT ... FOR UPDATE
    SKIP LOCKED`` and a lease, so jobs survive restarts and run once across runtimes."""

    class Status(models.TextChoices):
        PENDING = "pending"  # waits for run_at
        RUNNING = "running"  # claimed by a runtime until lease_until
        DONE = "done"
        FAILED = "failed"  # an attempt failed; retried at run_at (backoff)
        DEAD = "dead"  # max_attempts failed attempts: dead-lettered, retried only by hand
        CANCELLED = "cancelled"

    kind = models.CharField(max_length=100)
    # Null for platform jobs. A deleted tenant keeps its row, so its jobs stay readable.
    tenant = models.ForeignKey(
        "tenancy.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    run_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    # Unique among waiting rows: enqueueing a key that already waits returns that row.
    # NULL (not "") for jobs without a key, so they never collide.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=models.Q(status__in=WAITING),
                name="botruntime_job_dedupe_waiting",
            )
        ]
        indexes = [
            # The claim query: due waiting rows, and running rows whose lease ran out.
            models.Index(
                fields=["run_at"],
                condition=models.Q(status__in=WAITING),
                name="botruntime_job_due",
            ),
            models.Index(
                fields=["lease_until"],
                condition=models.Q(status="running"),
                name="botruntime_job_leased",
            ),
            models.Index(fields=["kind", "status"], name="botruntime_job_kind_status"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} ({self.status})"


class ProcessedUpdate(models.Model):
    """A Telegram update a bot accepted: Telegram redelivers (webhook retries, a restarted
    poller), the runtime handles each (bot, update_id) once.

    Accepted as ``received`` with its JSON and a lease; ``done`` once its handlers ran and
    what they buffered was written. A ``received`` row whose lease ran out belongs to a
    runtime that died: the next runtime hosting the bot runs it again (``attempts``), and
    gives up after ``UPDATE_ATTEMPTS`` (``dropped``)."""

    class Status(models.TextChoices):
        RECEIVED = "received"
        DONE = "done"
        DROPPED = "dropped"

    bot_id = models.BigIntegerField()
    update_id = models.BigIntegerField()
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    # The update's JSON as Telegram sent it, kept until it is done: what a re-run starts
    # from. Text, not jsonb: stored as received, never parsed by the database (jsonb
    # refuses some valid JSON, such as a \u0000 escape, and would refuse the whole batch).
    payload = models.TextField(null=True, blank=True)  # noqa: DJ001
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["bot_id", "update_id"], name="botruntime_update_once")
        ]
        indexes = [
            # The re-run query: received rows whose lease ran out.
            models.Index(
                fields=["lease_until"],
                condition=models.Q(status="received"),
                name="botruntime_update_leased",
            )
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} of bot {self.bot_id} ({self.status})"
