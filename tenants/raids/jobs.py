"""Durable jobs of raids (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from raids.validation.passes import VALIDATE_JOB, raid_validation_run
from tenancy.models import Tenant


@job(VALIDATE_JOB, per_tenant=True, lease=timedelta(minutes=10))
def validate(*, tenant: Tenant, payload: dict) -> None:
    """One validation pass of a raid (``raid_validation_run``): during the raid at the
    lowest X priority, re-enqueued every VALIDATE_EVERY under one dedupe key per raid;
    after ``ends_at + grace_seconds`` the final pass at validation's priority, retried
    while X refuses. Refusals leave results pending, they never fail the job."""
    raid_validation_run(tenant=tenant, raid_id=int(payload["raid_id"]))
