"""The bot runtime's own recurring jobs."""

from __future__ import annotations

from datetime import timedelta

from botruntime.services import jobs_prune, updates_prune
from config.job_registry import job
from tenancy.models import Tenant

# Telegram keeps an undelivered update for 24 hours; twice that and it cannot come back.
PROCESSED_UPDATES_KEEP = timedelta(hours=48)
# Frequent recurring kinds leave a finished row per run: keep a week of them, dead-lettered
# ones a month (they wait for someone to look).
FINISHED_JOBS_KEEP = timedelta(days=7)
DEAD_JOBS_KEEP = timedelta(days=30)


@job("botruntime.updates_prune", every=timedelta(hours=1))
def prune_processed_updates(*, tenant: Tenant | None, payload: dict) -> None:
    updates_prune(older_than=PROCESSED_UPDATES_KEEP)


@job("botruntime.jobs_prune", every=timedelta(hours=1))
def prune_finished_jobs(*, tenant: Tenant | None, payload: dict) -> None:
    jobs_prune(finished_before=FINISHED_JOBS_KEEP, dead_before=DEAD_JOBS_KEEP)
