"""A raid's end: ``raid_close`` moves an open raid whose end has come to validating,
once; the final validation pass hands over to ``raid_finish`` (settlement, results,
points), each step once; what X never answers is given up on after a while."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_run, jobs_claim
from community.models import ActivityDay
from history.models import Entry
from notifications.models import OutboxMessage
from raids.models import Participant, Raid, Result
from raids.services.lifecycle import raid_close, raid_finish
from raids.services.schedule import FINISH_JOB, VALIDATE_JOB, raid_validation_schedule
from raids.validation.passes import raid_validation_run
from tests.raids.helpers import join
from wallet.models import Hold, Transfer
from xclient.models import RateWindow


def test_an_active_raid_past_its_end_moves_to_validating_once(raid_scene, make_raid):
    raid = make_raid(raid_scene)
    assert (
        raid_close(tenant=raid_scene.tenant, raid_id=raid.pk).status == Raid.Status.ACTIVE
    )  # not yet
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    assert raid_close(tenant=raid_scene.tenant, raid_id=raid.pk).status == Raid.Status.VALIDATING
    assert raid_close(tenant=raid_scene.tenant, raid_id=raid.pk).status == Raid.Status.VALIDATING
    ended = Entry.objects.filter(tenant_id=raid_scene.tenant.pk, action="raids.raid_ended")
    assert ended.count() == 1 and ended.get().data["was"] == "active"


def test_a_cancelled_raid_stays_cancelled_and_an_unknown_one_is_none(raid_scene, make_raid):
    raid = make_raid(raid_scene)
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(
            status=Raid.Status.CANCELLED, ends_at=timezone.now() - timedelta(seconds=1)
        )
    assert raid_close(tenant=raid_scene.tenant, raid_id=raid.pk).status == Raid.Status.CANCELLED
    assert raid_close(tenant=raid_scene.tenant, raid_id=raid.pk + 1000) is None


def _x_refuses_reposts() -> None:
    """X refuses every read of reposts for the rest of its window."""
    RateWindow.objects.create(
        credential="app:platform",
        endpoint="GET /2/tweets/:id/retweeted_by",
        limit=75,
        resets_at=timezone.now() + timedelta(minutes=15),
        blocked_until=timezone.now() + timedelta(minutes=15),
    )


def _due_now(kind: str) -> str:
    """Run the one pending job of ``kind`` as the runtime would, now."""
    Job.objects.filter(kind=kind, status=Job.Status.PENDING).update(run_at=timezone.now())
    [claimed] = jobs_claim(worker="w", kinds=[kind])
    return job_run(job=claimed, worker="w")


def test_a_raid_ends_validated_settled_announced_and_scored_through_its_jobs(
    raid_scene, raid_x, make_raid, linked
):
    """From the end to the results with no one asking: the final pass at the end of the
    grace window queues the finish at once (the results reach the group within the
    runtime's poll of it), which pays from the hold, queues the summary and each result,
    and adds the points to the leaderboard. Run again, nothing moves twice."""
    raid = make_raid(raid_scene, tasks=[("repost", 10, {})], pool=1_000_000, formula="points")
    ada = join(raid_scene, raid, *linked(raid_scene, raid_x, "ada"))
    ben = join(raid_scene, raid, *linked(raid_scene, raid_x, "ben"))
    raid_x.repost(ada.x_username, raid_x.target["id"])
    with tenant_context(raid_scene.tenant):
        ended = timezone.now() - raid.grace - timedelta(seconds=1)
        Raid.objects.filter(pk=raid.pk).update(ends_at=ended)
        raid.refresh_from_db()
    raid_validation_schedule(tenant=raid_scene.tenant, raid=raid)

    assert _due_now(VALIDATE_JOB) == "done"
    [finish] = Job.objects.filter(kind=FINISH_JOB, status=Job.Status.PENDING)
    assert finish.run_at <= timezone.now()  # due at once, not after another delay
    assert _due_now(FINISH_JOB) == "done"

    with tenant_context(raid_scene.tenant):
        raid.refresh_from_db()
        assert raid.status == Raid.Status.SETTLED and raid.results_sent_at is not None
        payouts = dict(Participant.objects.filter(raid=raid).values_list("pk", "payout"))
        assert payouts == {ada.pk: 1_000_000, ben.pk: 0}
        xp = dict(ActivityDay.objects.values_list("user_id").annotate(Sum("xp")))
        assert xp.get(ada.user_id) == 10 and ben.user_id not in xp
    summary = OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.result")
    assert summary.count() == 1 and summary.get().chat_id == raid_scene.chat_id
    hold = Hold.objects.get(pk=raid.hold_id)
    assert hold.status == Hold.Status.SETTLED

    assert raid_finish(tenant=raid_scene.tenant, raid_id=raid.pk).status == Raid.Status.SETTLED
    assert summary.count() == 1
    with tenant_context(raid_scene.tenant):
        assert ActivityDay.objects.filter(user_id=ada.user_id).aggregate(Sum("xp")) == {
            "xp__sum": 10
        }
    payees = Transfer.objects.filter(hold_id=hold.pk, kind=Transfer.Kind.PAYOUT)
    assert payees.count() == 1


def test_what_x_never_answers_becomes_unverifiable_and_the_raid_is_settled_anyway(
    raid_scene, raid_x, make_raid, linked
):
    raid = make_raid(raid_scene, tasks=[("repost", 10, {})], pool=1_000_000)
    ada = join(raid_scene, raid, *linked(raid_scene, raid_x, "ada"))
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(ends_at=timezone.now() - timedelta(hours=7))
        raid.refresh_from_db()
    _x_refuses_reposts()
    late = raid_validation_run(tenant=raid_scene.tenant, raid_id=raid.pk)
    assert late is not None and late.refused and late.pending == 0
    with tenant_context(raid_scene.tenant):
        result = Result.objects.get(participant=ada)
        assert (result.status, result.evidence) == ("unverifiable", {"reason": "x_unavailable"})
    assert Job.objects.filter(kind=FINISH_JOB, status=Job.Status.PENDING).count() == 1


def test_within_the_give_up_window_a_refusal_only_retries(raid_scene, raid_x, make_raid, linked):
    _x_refuses_reposts()
    fresh = make_raid(raid_scene, tasks=[("repost", 10, {})], pool=1_000_000)
    bea = join(raid_scene, fresh, *linked(raid_scene, raid_x, "bea"))
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=fresh.pk).update(ends_at=timezone.now() - timedelta(minutes=5))
    retry = raid_validation_run(tenant=raid_scene.tenant, raid_id=fresh.pk)
    assert retry is not None and retry.pending == 1
    with tenant_context(raid_scene.tenant):
        assert Result.objects.get(participant=bea).status == "pending"
    assert not Job.objects.filter(kind=FINISH_JOB)
