"""Durable jobs: enqueue, claim with a lease, retry with backoff, dead-letter, reclaim
after a crashed runtime, the recurring schedule, and two runtimes claiming at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models.functions import Now
from django.utils import timezone

from botruntime.models import Job
from botruntime.services import (
    backoff,
    job_cancel,
    job_complete,
    job_enqueue,
    job_fail,
    job_renew,
    job_retry,
    job_run,
    jobs_claim,
    jobs_schedule_recurring,
    recurring_key,
)
from config.errors import ServiceError
from config.job_registry import job_kinds
from history.models import Entry
from history.services import Actor
from tenancy.services import tenant_suspend


def _boom(*, tenant, payload) -> None:
    raise RuntimeError(f"boom {payload.get('n', 0)}")


def _db_now():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement_timestamp()")
        return cursor.fetchone()[0]


def test_a_claimed_job_is_leased_to_one_worker_and_not_handed_out_again(db, job_kind):
    job_kind("test.ping")
    job = job_enqueue(kind="test.ping", payload={"n": 1})

    [claimed] = jobs_claim(worker="w1", limit=5)

    assert claimed.pk == job.pk
    assert (claimed.status, claimed.attempts, claimed.locked_by) == ("running", 1, "w1")
    lease = claimed.lease_until - _db_now()
    assert timedelta(minutes=4) < lease <= timedelta(minutes=5)
    assert jobs_claim(worker="w2", limit=5) == []


def test_only_due_jobs_of_known_kinds_are_claimed(db, job_kind):
    job_kind("test.ping")
    later = job_enqueue(kind="test.ping", run_at=timezone.now() + timedelta(minutes=1))
    now = job_enqueue(kind="test.ping")
    Job.objects.create(kind="test.unknown_here")  # e.g. a kind only a newer release has

    assert [j.pk for j in jobs_claim(worker="w", limit=10)] == [now.pk]
    assert Job.objects.get(pk=later.pk).status == "pending"
    with pytest.raises(ServiceError) as err:
        job_enqueue(kind="test.unknown_here")
    assert err.value.code == "unknown_job_kind"


def test_enqueue_belongs_to_the_callers_transaction(db, job_kind):
    job_kind("test.ping")
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue(kind="test.ping")
        raise RuntimeError("the caller's work failed")
    assert not Job.objects.filter(kind="test.ping").exists()


def test_a_dedupe_key_keeps_one_waiting_job_at_the_earliest_time(db, job_kind):
    job_kind("test.ping")
    first = job_enqueue(
        kind="test.ping",
        payload={"n": 1},
        dedupe_key="k",
        run_at=timezone.now() + timedelta(hours=1),
    )
    sooner = timezone.now() + timedelta(minutes=1)
    again = job_enqueue(kind="test.ping", payload={"n": 2}, dedupe_key="k", run_at=sooner)

    assert again.pk == first.pk
    assert again.run_at == sooner and again.payload == {"n": 1}
    # Once it runs, the key is free: a new request makes a new job.
    Job.objects.filter(pk=first.pk).update(run_at=Now())
    [claimed] = jobs_claim(worker="w")
    assert job_enqueue(kind="test.ping", dedupe_key="k").pk != claimed.pk


def test_failures_retry_with_exponential_backoff_then_dead_letter(db, job_kind):
    job_kind("test.flaky", _boom, max_attempts=3)
    job = job_enqueue(kind="test.flaky", payload={"n": 7})

    delays = []
    for attempt in (1, 2):
        [claimed] = jobs_claim(worker="w")
        assert claimed.attempts == attempt
        assert job_run(job=claimed, worker="w") == "failed"
        row = Job.objects.get(pk=job.pk)
        assert row.status == "failed" and "RuntimeError: boom 7" in row.last_error
        delays.append(row.run_at - _db_now())
        assert jobs_claim(worker="w") == []  # not before its retry time
        Job.objects.filter(pk=job.pk).update(run_at=Now())

    assert backoff(1) - timedelta(seconds=1) < delays[0] <= backoff(1) == timedelta(seconds=15)
    assert backoff(2) - timedelta(seconds=1) < delays[1] <= backoff(2) == timedelta(seconds=30)
    assert backoff(30) == timedelta(hours=1)

    [claimed] = jobs_claim(worker="w")
    assert job_run(job=claimed, worker="w") == "dead"
    row = Job.objects.get(pk=job.pk)
    assert (row.status, row.attempts, row.lease_until) == ("dead", 3, None)
    assert jobs_claim(worker="w") == []
    entry = Entry.objects.get(action="job.dead", target_id=str(job.pk))
    assert entry.data["kind"] == "test.flaky" and entry.data["attempts"] == 3


def test_an_expired_lease_is_reclaimed_and_the_crashed_worker_cannot_finish_it(db, job_kind):
    calls = job_kind("test.ping")
    job = job_enqueue(kind="test.ping")
    [crashed] = jobs_claim(worker="crashed-runtime")

    # The runtime died: nobody renews or finishes; once the lease runs out it is due again.
    Job.objects.filter(pk=job.pk).update(lease_until=Now() - timedelta(seconds=1))
    [reclaimed] = jobs_claim(worker="w2")

    assert reclaimed.pk == job.pk and reclaimed.attempts == 2 and reclaimed.locked_by == "w2"
    # The old worker coming back late must not overwrite the new attempt.
    assert job_complete(job=crashed, worker="crashed-runtime") is False
    assert job_fail(job=crashed, worker="crashed-runtime", error="late") == ""
    assert Job.objects.get(pk=job.pk).status == "running"
    assert job_run(job=reclaimed, worker="w2") == "done"
    assert len(calls) == 1 and Job.objects.get(pk=job.pk).status == "done"


def test_renewing_extends_only_a_lease_still_held(db, job_kind, caplog):
    job_kind("test.renew")
    job_enqueue(kind="test.renew")
    [job] = jobs_claim(worker="w1", limit=1)

    assert job_renew(job=job, worker="w1", lease=timedelta(minutes=30))
    lease = Job.objects.get(pk=job.pk).lease_until - _db_now()
    assert timedelta(minutes=29) < lease <= timedelta(minutes=30)

    caplog.clear()
    job_complete(job=job, worker="w1")
    assert not job_renew(job=job, worker="w1", lease=timedelta(minutes=5))  # finished
    assert "job.lease_lost" not in caplog.text  # a renewal racing completion is not news

    job_enqueue(kind="test.renew")
    [other] = jobs_claim(worker="w1", limit=1)
    Job.objects.filter(pk=other.pk).update(lease_until=Now() - timedelta(seconds=1))
    jobs_claim(worker="w2", limit=1)  # the lease ran out: taken by another runtime
    assert not job_renew(job=other, worker="w1", lease=timedelta(minutes=5))
    assert "job.lease_lost" in caplog.text
    assert Job.objects.get(pk=other.pk).locked_by == "w2"


def test_a_job_whose_lease_expired_on_its_last_attempt_is_dead_without_running(db, job_kind):
    calls = job_kind("test.ping", max_attempts=1)
    job = job_enqueue(kind="test.ping")
    jobs_claim(worker="w1")
    Job.objects.filter(pk=job.pk).update(lease_until=Now() - timedelta(seconds=1))

    [again] = jobs_claim(worker="w2")

    assert job_run(job=again, worker="w2") == "dead"
    assert calls == []


def test_per_tenant_jobs_run_in_the_tenants_schema_and_stop_for_suspended_tenants(
    db, job_kind, make_tenant
):
    calls = job_kind("test.tenant", per_tenant=True)
    active, suspended = make_tenant(), make_tenant()
    job_enqueue(kind="test.tenant", tenant=active, payload={"x": 1})
    job_enqueue(kind="test.tenant", tenant=suspended)
    tenant_suspend(tenant=suspended)

    results = {j.tenant_id: job_run(job=j, worker="w") for j in jobs_claim(worker="w", limit=5)}

    assert results == {active.pk: "done", suspended.pk: "cancelled"}
    assert calls == [{"tenant": active, "payload": {"x": 1}, "schema": active.schema_name}]
    assert connection.schema_name == "public"


def test_recurring_kinds_keep_one_job_per_target_and_reschedule_after_each_run(
    db, job_kind, make_tenant
):
    job_kind("test.daily", every=timedelta(days=1))
    job_kind("test.per_community", every=timedelta(hours=6), per_tenant=True)
    first, second = make_tenant(), make_tenant()

    jobs_schedule_recurring()
    jobs_schedule_recurring()  # idempotent

    daily = Job.objects.get(kind="test.daily")
    assert daily.tenant_id is None and daily.dedupe_key == recurring_key("test.daily", None)
    targets = set(Job.objects.filter(kind="test.per_community").values_list("tenant_id", flat=True))
    assert {first.pk, second.pk} <= targets and None not in targets
    assert Job.objects.filter(kind="test.per_community", tenant=first).count() == 1

    [claimed] = jobs_claim(worker="w", kinds=["test.daily"])
    jobs_schedule_recurring()  # a running job counts: nothing is added meanwhile
    assert Job.objects.filter(kind="test.daily").count() == 1
    assert job_run(job=claimed, worker="w") == "done"

    following = Job.objects.get(kind="test.daily", status="pending")
    wait = following.run_at - _db_now()
    assert timedelta(hours=23, minutes=59) < wait <= timedelta(days=1)


def test_a_platform_kind_s_row_left_from_when_it_ran_per_community_is_cancelled(
    db, job_kind, make_tenant
):
    # The kind ran per community once; its rows with a tenant are left in the queue.
    calls = job_kind("test.platform_now", every=timedelta(seconds=30))
    community = make_tenant()
    job_enqueue(
        kind="test.platform_now",
        tenant=community.pk,
        payload={},
        dedupe_key=recurring_key("test.platform_now", community.pk),
    )
    [claimed] = jobs_claim(worker="w", kinds=["test.platform_now"])

    assert job_run(job=claimed, worker="w") == "cancelled"
    assert calls == []  # never run with a tenant
    assert not Job.objects.filter(kind="test.platform_now", tenant=community, status="pending")


def test_a_dead_recurring_job_is_still_scheduled_again(db, job_kind):
    job_kind("test.hourly", _boom, every=timedelta(hours=1), max_attempts=1)
    jobs_schedule_recurring()
    [claimed] = jobs_claim(worker="w", kinds=["test.hourly"])

    assert job_run(job=claimed, worker="w") == "dead"
    assert Job.objects.filter(kind="test.hourly", status="pending").count() == 1


def test_retry_and_cancel_are_audited_and_refuse_the_wrong_states(db, job_kind):
    job_kind("test.flaky", _boom, max_attempts=1)
    job = job_enqueue(kind="test.flaky")
    [claimed] = jobs_claim(worker="w")
    job_run(job=claimed, worker="w")

    retried = job_retry(job_id=job.pk, actor=Actor.system("cli"))
    assert (retried.status, retried.attempts) == ("pending", 0)
    assert jobs_claim(worker="w")[0].pk == job.pk  # due now
    with pytest.raises(ServiceError) as err:
        job_retry(job_id=job.pk)
    assert err.value.code == "job_not_retryable"  # running

    waiting = job_enqueue(kind="test.flaky")
    assert job_cancel(job_id=waiting.pk).status == "cancelled"
    with pytest.raises(ServiceError) as err:
        job_cancel(job_id=waiting.pk)
    assert err.value.code == "job_not_cancellable"
    with pytest.raises(ServiceError) as err:
        job_cancel(job_id=10**9)
    assert err.value.code == "job_not_found"
    actions = list(
        Entry.objects.filter(target_type="job").order_by("id").values_list("action", flat=True)
    )
    assert actions == ["job.dead", "job.retried", "job.cancelled"]


def test_the_platform_job_kinds_are_registered():
    kinds = job_kinds()
    assert kinds["community.groups_refresh"].per_tenant
    assert kinds["community.groups_refresh"].every == timedelta(days=1)
    assert kinds["history.archive"].every == timedelta(days=1)
    assert not kinds["history.archive"].per_tenant
    assert kinds["botruntime.updates_prune"].every == timedelta(hours=1)
    assert kinds["botruntime.jobs_prune"].every == timedelta(hours=1)


def test_two_runtimes_claiming_at_once_never_get_the_same_job(elsewhere, job_kind):
    """Two connections: while one claimer's transaction holds rows, the other skips them
    (no waiting, no double claim); then both drain the rest concurrently."""
    job_kind("test.ping")
    ids = set(elsewhere(lambda: [job_enqueue(kind="test.ping").pk for _ in range(30)]))
    holding, release = threading.Event(), threading.Event()
    got: dict[str, list[int]] = {"a": [], "b": []}

    def claimer_a() -> None:
        with transaction.atomic():  # the claim's row locks stay until this commits
            got["a"].extend(j.pk for j in jobs_claim(worker="a", limit=5))
            holding.set()
            release.wait(10)
        while batch := jobs_claim(worker="a", limit=2):
            got["a"].extend(j.pk for j in batch)

    def claimer_b() -> None:
        assert holding.wait(10)
        with connection.cursor() as cursor:
            # A claimer that waited for a's locks (FOR UPDATE without SKIP LOCKED) would get
            # "lock timeout" here rather than its jobs 10 s later.
            cursor.execute("SET lock_timeout = '1s'")
        try:
            got["b"].extend(j.pk for j in jobs_claim(worker="b", limit=5))
        finally:  # a holds its locks until now
            release.set()
        while batch := jobs_claim(worker="b", limit=2):
            got["b"].extend(j.pk for j in batch)

    first = threading.Thread(target=elsewhere, args=(claimer_a,))
    first.start()
    elsewhere(claimer_b)
    first.join(10)

    assert len(got["a"]) >= 5 and len(got["b"]) >= 5
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == sorted(ids)
    owners = dict(Job.objects.filter(pk__in=ids).values_list("pk", "locked_by"))
    assert all(owners[pk] == "a" for pk in got["a"]) and all(owners[pk] == "b" for pk in got["b"])


def test_a_recurring_job_runs_quietly_and_a_one_off_is_logged(db, job_kind, caplog):
    # The history seal recurs every 2 s: at info its claims would bury the log.
    job_kind("test.often", every=timedelta(seconds=2))
    job_kind("test.once")
    jobs_schedule_recurring()
    job_enqueue(kind="test.once")
    caplog.set_level("DEBUG", logger="botruntime.services")
    for claimed in jobs_claim(worker="w", limit=5, kinds=["test.often", "test.once"]):
        assert job_run(job=claimed, worker="w") == "done"
    levels = {
        (r.getMessage(), r.kind): r.levelname
        for r in caplog.records
        if r.getMessage() in {"job.claimed", "job.done"}
    }
    assert levels == {
        ("job.claimed", "test.often"): "DEBUG",
        ("job.done", "test.often"): "DEBUG",
        ("job.claimed", "test.once"): "INFO",
        ("job.done", "test.once"): "INFO",
    }
