"""The platform's own recurring jobs, run the way the runtime runs them (claim, run):
history retention, and forgetting old processed updates."""

from __future__ import annotations

from datetime import timedelta

from django.db.models.functions import Now

from botruntime.models import Job, ProcessedUpdate
from botruntime.services import (
    job_enqueue,
    job_run,
    jobs_claim,
    update_accept,
    updates_forget,
)
from history.chain import chain_key
from history.models import Entry
from history.services import history_seal, record


def _run_one(kind: str, **enqueue) -> Job:
    job = job_enqueue(kind=kind, **enqueue)
    [claimed] = jobs_claim(worker="w", kinds=[kind])
    assert claimed.pk == job.pk
    job_run(job=claimed, worker="w")
    return Job.objects.get(pk=job.pk)


def test_history_archive_job_moves_entries_past_the_retention(tenant, settings, tmp_path):
    settings.HISTORY_ARCHIVE_DIR = tmp_path
    record(action="thing.done", tenant=tenant, data={"n": 1})
    history_seal()  # what the history.seal job does every few seconds
    chain = chain_key(tenant.pk)

    # The default retention (90 days) keeps today's entries.
    assert _run_one("history.archive").status == "done"
    assert not Entry.objects.filter(chain=chain, action="history.archived").exists()

    assert _run_one("history.archive", payload={"retention_days": 0}).status == "done"
    note = Entry.objects.get(chain=chain, action="history.archived")
    assert note.actor_type == "system" and note.actor_id == "retention"
    assert not Entry.objects.filter(chain=chain, action="thing.done").exists()
    assert list((tmp_path / chain).glob("*.jsonl.gz"))
    # Recurring: the next run is scheduled a day later.
    following = Job.objects.get(kind="history.archive", status="pending")
    assert following.run_at - note.created_at > timedelta(hours=23)


def test_updates_are_accepted_once_and_forgotten_after_two_days(db):
    assert update_accept(bot_id=1, update_id=10) is True
    assert update_accept(bot_id=1, update_id=10) is False
    assert update_accept(bot_id=2, update_id=10) is True  # another bot's numbering
    old = ProcessedUpdate.objects.create(bot_id=1, update_id=9)
    ProcessedUpdate.objects.filter(pk=old.pk).update(received_at=Now() - timedelta(hours=49))

    assert _run_one("botruntime.updates_prune").status == "done"

    assert sorted(ProcessedUpdate.objects.values_list("bot_id", "update_id")) == [
        (1, 10),
        (2, 10),
    ]
    # A Telegram that numbers from scratch again (a fresh sandbox): forget one bot's.
    assert updates_forget(bot_id=1) == 1
    assert update_accept(bot_id=1, update_id=10) is True
    assert update_accept(bot_id=2, update_id=10) is False


def test_finished_jobs_are_pruned_after_a_week_dead_ones_after_a_month(db, job_kind):
    job_kind("test.ping")
    rows = {
        name: job_enqueue(kind="test.ping", dedupe_key=name).pk
        for name in ("done_old", "done_new", "cancelled_old", "dead_old", "dead_older", "waiting")
    }
    ages = {"done_old": 8, "done_new": 6, "cancelled_old": 8, "dead_old": 8, "dead_older": 31}
    for name, days in ages.items():
        status = name.split("_")[0]
        Job.objects.filter(pk=rows[name]).update(
            status=status, finished_at=Now() - timedelta(days=days)
        )

    assert _run_one("botruntime.jobs_prune").status == "done"

    left = set(Job.objects.filter(kind="test.ping").values_list("dedupe_key", flat=True))
    assert left == {"done_new", "dead_old", "waiting"}
