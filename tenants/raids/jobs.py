"""Durable jobs of raids (``config.job_registry``). A raid's life, enqueued by
``raid_create`` in its transaction with dedupe keys (one of each per raid): ``raids.start``
at ``starts_at`` (open it and announce it in the group), ``raids.remind`` before the end
(the group's reminder, once per raid and delay), ``raids.close`` at ``ends_at``
(``raids.services.lifecycle.raid_close``), ``raids.validate`` during the raid and after
it, ``raids.finish`` once validation is final (settlement, results, points). Giveaways
and contests: ``raids.giveaway_draw`` at ``draw_at``, ``raids.contest_settle`` at
``ends_at``; ``raids.auto_raid`` when a project account posts (a template's raid). Each
is idempotent: run again, it finds the raid, giveaway or contest already moved and does
nothing."""

from __future__ import annotations

from datetime import timedelta

from django_tenants.utils import tenant_context

from config.job_registry import job
from raids.models import Contest, Giveaway, Raid
from raids.services.contests import contest_settle
from raids.services.giveaways import giveaway_draw
from raids.services.lifecycle import raid_close, raid_finish
from raids.services.raids import raid_activate, raid_announce, raid_remind
from raids.services.schedule import FINISH_JOB, VALIDATE_JOB, raid_validation_schedule
from raids.services.templates import AUTO_RAID_JOB, auto_raid_create
from raids.validation.passes import raid_validation_run
from tenancy.models import Tenant


def _raid(payload: dict) -> Raid | None:
    return Raid.objects.filter(pk=int(payload["raid_id"])).first()


@job("raids.start", per_tenant=True)
def raid_start_job(*, tenant: Tenant, payload: dict) -> None:
    raid = _raid(payload)
    if raid is None:
        return
    raid_activate(tenant=tenant, raid=raid)
    # Announced even when a previous attempt opened it but failed before announcing:
    # the outbox's key sends the announcement once.
    raid_announce(tenant=tenant, raid=raid)


@job("raids.remind", per_tenant=True)
def raid_remind_job(*, tenant: Tenant, payload: dict) -> None:
    raid = _raid(payload)
    if raid is not None:
        raid_remind(tenant=tenant, raid=raid, before=timedelta(seconds=int(payload["before"])))


@job("raids.close", per_tenant=True)
def raid_close_job(*, tenant: Tenant, payload: dict) -> None:
    """At ``ends_at``: the raid stops taking participants, and its final validation pass
    is scheduled for the end of the grace window."""
    raid = raid_close(tenant=tenant, raid_id=int(payload["raid_id"]))
    if raid is not None and raid.status == Raid.Status.VALIDATING:
        raid_validation_schedule(tenant=tenant, raid=raid)


@job(FINISH_JOB, per_tenant=True, lease=timedelta(minutes=10))
def raid_finish_job(*, tenant: Tenant, payload: dict) -> None:
    """Once the final pass left nothing pending: settle, publish the results, award the
    points (``raid_finish``; each step once)."""
    raid_finish(tenant=tenant, raid_id=int(payload["raid_id"]))


@job(VALIDATE_JOB, per_tenant=True, lease=timedelta(minutes=10))
def validate(*, tenant: Tenant, payload: dict) -> None:
    """One validation pass of a raid (``raid_validation_run``): during the raid at the
    lowest X priority, re-enqueued every ``validate_every()`` under one dedupe key per raid;
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


@job(AUTO_RAID_JOB, per_tenant=True)
def auto_raid_job(*, tenant: Tenant, payload: dict) -> None:
    """A project account's new post made into a raid from a template (``auto_raid_create``:
    once per template and post; no funds or a post already raided is recorded and skipped)."""
    auto_raid_create(
        tenant=tenant,
        template_id=int(payload["template_id"]),
        post_id=int(payload["post_id"]),
        username=str(payload.get("username", "")),
    )
