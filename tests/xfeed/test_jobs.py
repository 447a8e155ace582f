"""The recurring jobs, run as the runtime runs them (claimed from the jobs table, inside
the tenant's schema for per-community kinds): ``xfeed.poll``, one platform job running
the shared polling round once in poll mode, nothing in stream mode (the stream worker's
backfill does that); ``xfeed.kol_track`` against a sandbox X whose
clock is the real one's recent past, a round ending done even when the X cap refuses it,
and the next round catching up."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim, jobs_schedule_recurring
from config.job_registry import job_kinds
from history.services import Actor
from sandbox.x import ManualClock
from tests.xfeed.helpers import aged, kol_add
from xclient.metering import budget_set
from xfeed.models import KolPost, KolSnapshot

SEARCH = "/2/tweets/search/recent"


def run_poll_job(tenant=None) -> str:
    job_enqueue(kind="xfeed.poll", tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=["xfeed.poll"])
    return job_run(job=claimed, worker="w")


def test_the_job_polls_the_whole_platform_once_in_poll_mode_only(feed, xsim, settings):
    kind = job_kinds()["xfeed.poll"]
    assert not kind.per_tenant  # one round for the platform, not one per community
    assert jobs_schedule_recurring() >= 1
    assert Job.objects.filter(kind="xfeed.poll").values_list("tenant_id", flat=True).get() is None
    Job.objects.filter(kind="xfeed.poll").delete()
    project, partner = aged(xsim, "project", "partner")
    a, b = feed(), feed()
    a.follow(project)
    b.follow(partner)

    settings.XFEED_MODE = "stream"
    assert run_poll_job() == "done"
    assert [c for c in xsim.calls() if c["path"] == SEARCH] == []

    settings.XFEED_MODE = "poll"
    settings.XFEED_POLL_SECONDS = settings.XFEED_POLL_MAX_SECONDS = 1  # due again soon
    assert run_poll_job() == "done"
    [search] = [c for c in xsim.calls() if c["path"] == SEARCH]  # both in one query
    assert f"from:{project['id']}" in search["query"]["query"]
    assert f"from:{partner['id']}" in search["query"]["query"]
    # A row left from when the job ran per community does not poll again, even when the
    # query is due, and is cancelled rather than scheduled again every 30 s forever.
    time.sleep(1.1)
    assert run_poll_job(a.tenant) == "cancelled"
    assert len([c for c in xsim.calls() if c["path"] == SEARCH]) == 1
    assert not Job.objects.filter(kind="xfeed.poll", tenant=a.tenant, status="pending").exists()


KIND = "xfeed.kol_track"


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock(start=time.time() - 2 * 3600)  # posts two hours old


def run_once(tenant) -> str:
    job_enqueue(kind=KIND, tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=[KIND])
    return job_run(job=claimed, worker="w")


def test_kol_tracking_is_a_recurring_job_of_each_community():
    kind = job_kinds()[KIND]
    assert kind.per_tenant and kind.every == timedelta(minutes=15)


def test_a_refused_round_is_done_and_the_next_catches_up(tenant, kol_x):
    kol_x.add_account("alice")
    kol_add(tenant, "alice")
    post_id = int(kol_x.post("alice", "gm #launch")["id"])
    budget_set(tenant=tenant, monthly_cap_micros=1, actor=Actor.system())  # spent

    assert run_once(tenant) == Job.Status.DONE  # not failed: the round waits
    with tenant_context(tenant):
        assert not KolPost.objects.exists()

    budget_set(tenant=tenant, monthly_cap_micros=None, actor=Actor.system())
    assert run_once(tenant) == Job.Status.DONE
    with tenant_context(tenant):
        post = KolPost.objects.get(post_id=post_id)
        assert KolSnapshot.objects.filter(post=post).count() == 1
        # Posted two hours ago: the +1 h point is past, the next one is +6 h.
        assert post.next_snapshot_at == post.created_at + timedelta(hours=6)
    assert Job.objects.filter(kind=KIND, status=Job.Status.FAILED).count() == 0
