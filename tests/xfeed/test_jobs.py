"""The recurring ``xfeed.poll`` job, run as the runtime runs it: a polling round in
poll mode, nothing in stream mode (the stream worker's backfill does that)."""

from __future__ import annotations

from botruntime.services import job_enqueue, job_run, jobs_claim
from config.job_registry import job_kinds
from tests.xfeed.helpers import aged

SEARCH = "/2/tweets/search/recent"


def run_poll_job(tenant) -> str:
    job_enqueue(kind="xfeed.poll", tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=["xfeed.poll"])
    return job_run(job=claimed, worker="w")


def test_the_job_polls_in_poll_mode_only(feed, xsim, settings):
    assert job_kinds()["xfeed.poll"].per_tenant
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)

    settings.XFEED_MODE = "stream"
    assert run_poll_job(group.tenant) == "done"
    assert [c for c in xsim.calls() if c["path"] == SEARCH] == []

    settings.XFEED_MODE = "poll"
    assert run_poll_job(group.tenant) == "done"
    assert len([c for c in xsim.calls() if c["path"] == SEARCH]) == 1
