"""When a raid's durable jobs run (only ``job_enqueue``, so every raids module may schedule
without importing the others): ``raids.validate`` passes during the raid and the final one
after ``ends_at + grace_seconds``, one pending job per raid whoever asks (a dedupe key);
``raids.finish`` once validation is final (settle, publish, award)."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from botruntime.services import job_enqueue
from raids.models import Raid
from tenancy.models import Tenant

VALIDATE_JOB = "raids.validate"
FINISH_JOB = "raids.finish"


def final_pass_at(raid: Raid) -> datetime:
    return raid.ends_at + raid.grace


def raid_validation_schedule(*, tenant: Tenant, raid: Raid, at: datetime | None = None) -> None:
    """The raid's next pass (the earlier of ``at`` and its final pass), one pending job
    per raid whoever asks (the dedupe key). In the caller's transaction."""
    final_at = final_pass_at(raid)
    when = final_at if at is None else at
    if at is not None and timezone.now() < final_at < at:
        when = final_at  # the final pass is never put off
    job_enqueue(
        kind=VALIDATE_JOB,
        tenant=tenant,
        payload={"raid_id": raid.pk},
        run_at=when,
        dedupe_key=f"{VALIDATE_JOB}:{tenant.pk}:{raid.pk}",
    )


def raid_finish_schedule(*, tenant: Tenant, raid: Raid) -> None:
    """Settlement and results, now (the runtime claims it within its poll interval)."""
    job_enqueue(
        kind=FINISH_JOB,
        tenant=tenant,
        payload={"raid_id": raid.pk},
        dedupe_key=f"{FINISH_JOB}:{tenant.pk}:{raid.pk}",
    )
