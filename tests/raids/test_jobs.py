"""The jobs ``raid_create`` enqueues, run as the runtime runs them (claimed from the jobs
table, inside the community's schema): ``raids.start`` opens and announces the raid,
``raids.remind`` reminds the group once, ``raids.close`` ends it; each run again does
nothing more."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim
from history.services import Actor
from notifications.models import OutboxMessage
from raids.models import Raid
from raids.services.raids import raid_create
from tests.raids.helpers import CURRENCY


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
