"""Durable jobs of the notifications app. Each bot's dispatcher does the same work for its
own bot as it goes; these cover bots whose dispatcher is not running (a broadcast keeps
expanding, orphaned sends are reported, old rows go)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from notifications import services
from tenancy.models import Tenant

OUTBOX_RETENTION = timedelta(days=30)


# The job keeps the name it is stored under in the jobs table.
@job("notifications.bulk_expand", every=timedelta(seconds=30))
def broadcasts_expand(*, tenant: Tenant | None, payload: dict) -> None:
    # A bounded amount per run: the dispatchers expand the rest as they send.
    for _ in range(int(payload.get("batches", 20))):
        if not services.broadcast_expand():
            break
    services.broadcast_finish()


@job("notifications.outbox_reap", every=timedelta(minutes=1))
def outbox_reap(*, tenant: Tenant | None, payload: dict) -> None:
    services.outbox_reap()


@job("notifications.outbox_purge", every=timedelta(days=1))
def outbox_purge(*, tenant: Tenant | None, payload: dict) -> None:
    services.outbox_purge(older_than=OUTBOX_RETENTION)
