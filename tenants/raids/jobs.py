"""Durable jobs of raids (``config.job_registry``)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from config.job_registry import job
from raids.models import Contest, Giveaway
from raids.services.contests import contest_settle
from raids.services.giveaways import giveaway_draw
from tenancy.models import Tenant


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
