"""Durable jobs of raids (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from django_tenants.utils import tenant_context

from config.job_registry import job
from raids.models import Contest, Giveaway
from raids.services.contests import contest_settle
from raids.services.giveaways import giveaway_draw
from raids.validation.passes import VALIDATE_JOB, raid_validation_run
from tenancy.models import Tenant


@job(VALIDATE_JOB, per_tenant=True, lease=timedelta(minutes=10))
def validate(*, tenant: Tenant, payload: dict) -> None:
    """One validation pass of a raid (``raid_validation_run``): during the raid at the
    lowest X priority, re-enqueued every VALIDATE_EVERY under one dedupe key per raid;
    after ``ends_at + grace_seconds`` the final pass at validation's priority, retried
    while X refuses. Refusals leave results pending, they never fail the job."""
    raid_validation_run(tenant=tenant, raid_id=int(payload["raid_id"]))


@job("raids.giveaway_draw", per_tenant=True)
def giveaway_draw_job(*, tenant: Tenant, payload: dict) -> None:
    """The draw of one giveaway at its ``draw_at`` (one-off, enqueued at creation). A
    cancelled or already drawn giveaway is left as it is."""
    with tenant_context(tenant):
        giveaway = Giveaway.objects.filter(pk=payload["giveaway_id"]).first()
    if giveaway is None or giveaway.status != Giveaway.Status.OPEN:
        return
    giveaway_draw(tenant=tenant, giveaway=giveaway)


@job("raids.contest_settle", per_tenant=True)
def contest_settle_job(*, tenant: Tenant, payload: dict) -> None:
    """The settlement of one EXP contest at its ``ends_at`` (one-off)."""
    with tenant_context(tenant):
        contest = Contest.objects.filter(pk=payload["contest_id"]).first()
    if contest is None or contest.status in (Contest.Status.SETTLED, Contest.Status.CANCELLED):
        return
    contest_settle(tenant=tenant, contest=contest)
