"""The raids' durable jobs run as the runtime runs them (claimed, inside the tenant's
schema). ``raids.start`` opens and announces a raid, ``raids.remind`` reminds the group
once, ``raids.close`` ends it. ``raids.validate``: a pass during the raid re-enqueues the
next one under the raid's dedupe key; once the grace window is over the raid moves to
``validating``, the final pass fails what was not found and nothing more is scheduled; a
final pass X refuses is retried soon. The one-off jobs of giveaways and contests: the
draw at draw_at and the contest's settlement at ends_at; a cancelled one is left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim
from config.job_registry import job_kinds
from history.services import SYSTEM, Actor
from notifications.models import OutboxMessage
from raids.jobs import contest_settle_job, giveaway_draw_job
from raids.models import Contest, Giveaway, Raid, Result
from raids.services.giveaways import giveaway_cancel
from raids.services.raids import raid_create
from raids.services.schedule import FINISH_JOB, VALIDATE_JOB, raid_validation_schedule
from raids.validation.passes import RETRY_REFUSED, validate_every
from tests.raids.helpers import CURRENCY, join
from xclient.models import RateWindow


def run(kind: str, tenant) -> str:
    Job.objects.filter(kind=kind, tenant=tenant).update(run_at=timezone.now())
    [claimed] = jobs_claim(worker="w", kinds=[kind])
    return job_run(job=claimed, worker="w")


def test_a_raid_starts_is_reminded_of_and_closes_through_its_jobs(named_scene, raid_x):
    scene = named_scene
    starts = timezone.now() + timedelta(hours=1)
    raid, _ = raid_create(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        post_url=f"https://x.com/project/status/{raid_x.target['id']}",
        tasks=[{"kind": "repost", "points": 10}],
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        currency=CURRENCY,
        pool_amount=1_000_000,
        formula="points",
        actor=Actor.user(scene.owner["id"]),
    )
    # Not time yet: the start job leaves the raid scheduled and announces nothing.
    assert run("raids.start", scene.tenant) == "done"
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.SCHEDULED
        Raid.objects.filter(pk=raid.pk).update(starts_at=timezone.now())
    job_enqueue(kind="raids.start", tenant=scene.tenant, payload={"raid_id": raid.pk})
    assert run("raids.start", scene.tenant) == "done"
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.ACTIVE
    assert OutboxMessage.objects.filter(tenant=scene.tenant, event="raid.created").count() == 1

    reminders = Job.objects.filter(tenant=scene.tenant, kind="raids.remind").order_by("run_at")
    assert [j.payload["before"] for j in reminders] == [3600, 600]
    for _ in range(2):
        assert run("raids.remind", scene.tenant) == "done"
    job_enqueue(
        kind="raids.remind", tenant=scene.tenant, payload={"raid_id": raid.pk, "before": 3600}
    )
    assert run("raids.remind", scene.tenant) == "done"  # the same reminder again: not resent
    assert OutboxMessage.objects.filter(tenant=scene.tenant, event="raid.ending").count() == 2

    with tenant_context(scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert run("raids.close", scene.tenant) == "done"
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.VALIDATING


def run_due(scene, raid) -> str:
    with tenant_context(scene.tenant):
        Job.objects.filter(kind=VALIDATE_JOB).update(run_at=timezone.now() - timedelta(seconds=1))
    [claimed] = jobs_claim(worker="w", kinds=[VALIDATE_JOB])
    return job_run(job=claimed, worker="w")


def waiting(scene) -> list[Job]:
    return list(Job.objects.filter(kind=VALIDATE_JOB, status=Job.Status.PENDING))


@pytest.fixture
def raid_with_two(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene, tasks=[("repost", 10, {})])
    people = [join(raid_scene, raid, *linked(raid_scene, raid_x, n)) for n in ("ada", "ben")]
    raid_x.repost(people[0].x_username, raid_x.target["id"])
    return raid, people


def test_passes_during_the_raid_keep_one_next_run(raid_scene, raid_with_two):
    raid, (ada, ben) = raid_with_two
    assert job_kinds()[VALIDATE_JOB].per_tenant
    raid_validation_schedule(tenant=raid_scene.tenant, raid=raid, at=timezone.now())
    raid_validation_schedule(tenant=raid_scene.tenant, raid=raid)  # the same key: one row
    assert len(waiting(raid_scene)) == 1
    assert run_due(raid_scene, raid) == "done"
    with tenant_context(raid_scene.tenant):
        assert Result.objects.get(participant=ada).status == "verified"
        assert Result.objects.get(participant=ben).status == "pending"
    [following] = waiting(raid_scene)
    assert following.dedupe_key == f"{VALIDATE_JOB}:{raid_scene.tenant.pk}:{raid.pk}"
    expected = timezone.now() + validate_every()
    assert abs((following.run_at - expected).total_seconds()) < 30


def test_after_the_grace_window_the_final_pass_ends_it(raid_scene, raid_with_two):
    raid, (ada, ben) = raid_with_two
    with tenant_context(raid_scene.tenant):
        past = datetime.now(UTC) - timedelta(seconds=raid.grace_seconds + 60)
        Raid.objects.filter(pk=raid.pk).update(ends_at=past)
        raid.refresh_from_db()
    raid_validation_schedule(tenant=raid_scene.tenant, raid=raid)
    assert run_due(raid_scene, raid) == "done"
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.VALIDATING
        assert Result.objects.get(participant=ben).status == "failed"
        assert Result.objects.get(participant=ada).status == "verified"
    assert waiting(raid_scene) == []  # done: settlement takes over
    [finish] = Job.objects.filter(kind=FINISH_JOB, status=Job.Status.PENDING)
    assert finish.payload == {"raid_id": raid.pk}


def test_a_final_pass_x_refuses_is_retried_soon(raid_scene, raid_with_two):
    raid, _ = raid_with_two
    now = datetime.now(UTC)
    RateWindow.objects.create(
        credential="app:platform",
        endpoint="GET /2/tweets/:id/retweeted_by",
        limit=75,
        resets_at=now + timedelta(minutes=15),
        blocked_until=now + timedelta(minutes=15),
    )
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(ends_at=now - timedelta(hours=1))
        raid.refresh_from_db()
    raid_validation_schedule(tenant=raid_scene.tenant, raid=raid)
    assert run_due(raid_scene, raid) == "done"  # a refusal does not fail the job
    with tenant_context(raid_scene.tenant):
        assert set(Result.objects.values_list("status", flat=True)) == {"pending"}
    [retry] = waiting(raid_scene)
    assert abs((retry.run_at - (timezone.now() + RETRY_REFUSED)).total_seconds()) < 30


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


def test_the_settle_job_settles_an_ended_contest(raid_scene, make_contest):
    now = datetime.now(UTC)
    contest = make_contest(raid_scene, [10], title="Week")
    with tenant_context(raid_scene.tenant):
        Contest.objects.filter(pk=contest.pk).update(ends_at=now - timedelta(seconds=1))
    contest_settle_job(tenant=raid_scene.tenant, payload={"contest_id": contest.pk})
    contest_settle_job(tenant=raid_scene.tenant, payload={"contest_id": contest.pk})
    with tenant_context(raid_scene.tenant):
        assert Contest.objects.get(pk=contest.pk).status == "settled"
