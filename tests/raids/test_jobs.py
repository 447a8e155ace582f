"""The one-off jobs: the draw at draw_at and the contest's settlement at ends_at, run as
the runtime runs them; a cancelled one is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django_tenants.utils import tenant_context

from botruntime.models import Job
from config.job_registry import job_kinds
from history.services import SYSTEM
from raids.jobs import contest_settle_job, giveaway_draw_job
from raids.models import Contest, Giveaway
from raids.services.contests import contest_create
from raids.services.giveaways import giveaway_cancel
from tests.raids.helpers import CURRENCY


def test_the_kinds_are_registered_per_tenant_and_one_off():
    kinds = job_kinds()
    for name in ("raids.giveaway_draw", "raids.contest_settle"):
        assert kinds[name].per_tenant and kinds[name].every is None


def test_the_draw_job_draws_a_due_giveaway_once_and_skips_a_cancelled_one(
    raid_scene, make_giveaway
):
    due = make_giveaway(raid_scene)
    job = Job.objects.get(kind="raids.giveaway_draw", payload={"giveaway_id": due.pk})
    with tenant_context(raid_scene.tenant):
        Giveaway.objects.filter(pk=due.pk).update(draw_at=datetime.now(UTC) - timedelta(seconds=1))
    giveaway_draw_job(tenant=raid_scene.tenant, payload=job.payload)
    giveaway_draw_job(tenant=raid_scene.tenant, payload=job.payload)  # at least once: again
    with tenant_context(raid_scene.tenant):
        assert Giveaway.objects.get(pk=due.pk).status == "drawn"

    cancelled = make_giveaway(raid_scene)
    giveaway_cancel(tenant=raid_scene.tenant, giveaway=cancelled, actor=SYSTEM)
    giveaway_draw_job(tenant=raid_scene.tenant, payload={"giveaway_id": cancelled.pk})
    with tenant_context(raid_scene.tenant):
        assert Giveaway.objects.get(pk=cancelled.pk).status == "cancelled"


def test_the_settle_job_settles_an_ended_contest(raid_scene):
    now = datetime.now(UTC)
    contest = contest_create(
        tenant=raid_scene.tenant,
        chat_id=raid_scene.chat_id,
        title="Week",
        currency=CURRENCY,
        prizes=[10],
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=1),
    )
    with tenant_context(raid_scene.tenant):
        Contest.objects.filter(pk=contest.pk).update(ends_at=now - timedelta(seconds=1))
    contest_settle_job(tenant=raid_scene.tenant, payload={"contest_id": contest.pk})
    contest_settle_job(tenant=raid_scene.tenant, payload={"contest_id": contest.pk})
    with tenant_context(raid_scene.tenant):
        assert Contest.objects.get(pk=contest.pk).status == "settled"
