"""``manage.py jobs list|retry|cancel``."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim


def _run(*args: str) -> str:
    out = StringIO()
    call_command("jobs", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def _fail(*, tenant, payload) -> None:
    raise ValueError("the upstream said no\nsecond line")


@pytest.fixture
def dead_job(db, job_kind, tenant):
    job_kind("test.cmd", _fail, max_attempts=1, per_tenant=True)
    job = job_enqueue(kind="test.cmd", tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=["test.cmd"])
    job_run(job=claimed, worker="w")
    return job


def test_list_shows_jobs_with_their_tenant_state_and_last_error(dead_job, tenant, job_kind):
    job_kind("test.other")
    other = job_enqueue(kind="test.other")

    lines = _run("list").splitlines()

    assert lines[0].split() == [
        "ID",
        "KIND",
        "TENANT",
        "STATUS",
        "ATTEMPTS",
        "RUN",
        "AT",
        "LAST",
        "ERROR",
    ]
    assert lines[1].split()[:5] == [str(other.pk), "test.other", "-", "pending", "0"]
    dead = lines[2].split()
    assert dead[:5] == [str(dead_job.pk), "test.cmd", tenant.slug, "dead", "1"]
    assert lines[2].endswith("second line")  # the error's last line
    assert lines[-1] == "2 job(s)"
    only_dead = _run("list", "--status", "dead").splitlines()
    assert [line.split()[0] for line in only_dead[1:-1]] == [str(dead_job.pk)]
    assert _run("list", "--kind", "test.other").splitlines()[-1] == "1 job(s)"


def test_retry_then_cancel(dead_job):
    assert (
        _run("retry", str(dead_job.pk)).strip() == f"job {dead_job.pk} (test.cmd) is pending again"
    )
    assert Job.objects.get(pk=dead_job.pk).status == "pending"
    assert _run("cancel", str(dead_job.pk)).strip() == f"job {dead_job.pk} (test.cmd) cancelled"
    assert Job.objects.get(pk=dead_job.pk).status == "cancelled"


@pytest.mark.parametrize(
    "args, message",
    [
        (("retry", "999999999"), "no job with id 999999999"),
        (("cancel", "{dead}"), "is dead; only pending or failed jobs can be cancelled"),
    ],
)
def test_errors_exit_2_with_one_line(dead_job, args, message):
    args = [a.format(dead=dead_job.pk) for a in args]
    with pytest.raises(CommandError) as err:
        _run(*args)
    assert err.value.returncode == 2
    assert message in str(err.value)
