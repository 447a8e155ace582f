"""``xfeed.kol_track`` run as the runtime runs it (claimed from the jobs table, inside the
tenant's schema) against the sandbox X, whose clock here is the real one's recent past: a
round ends done even when the X cap refuses it, and the next round catches up."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim
from config.job_registry import job_kinds
from history.services import Actor
from sandbox.x import ManualClock
from tests.xfeed.helpers import kol_add
from xclient.metering import budget_set
from xfeed.models import KolPost, KolSnapshot

KIND = "xfeed.kol_track"


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock(start=time.time() - 2 * 3600)  # posts two hours old


def run_once(tenant) -> str:
    job_enqueue(kind=KIND, tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=[KIND])
    return job_run(job=claimed, worker="w")


def test_kol_tracking_is_a_recurring_job_of_each_community():
    kind = job_kinds()[KIND]
    assert kind.per_tenant and kind.every == timedelta(minutes=15)


def test_a_refused_round_is_done_and_the_next_catches_up(tenant, x):
    x.add_account("alice")
    kol_add(tenant, "alice")
    post_id = int(x.post("alice", "gm #launch")["id"])
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
