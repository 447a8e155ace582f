"""The durable jobs of a raid's life, enqueued by ``raid_create`` in its transaction with
dedupe keys (one of each per raid): ``raids.start`` at ``starts_at`` (open it and announce
it in the group), ``raids.remind`` before the end (the group's reminder, once per raid
and delay), ``raids.close`` at ``ends_at`` (``raids.services.lifecycle.raid_close``).
Each is idempotent: run again, it finds the raid already moved and does nothing."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from raids.models import Raid
from raids.services.lifecycle import raid_close
from raids.services.raids import raid_activate, raid_announce, raid_remind
from tenancy.models import Tenant


def _raid(payload: dict) -> Raid | None:
    return Raid.objects.filter(pk=int(payload["raid_id"])).first()


@job("raids.start", per_tenant=True)
def raid_start_job(*, tenant: Tenant, payload: dict) -> None:
    raid = _raid(payload)
    if raid is None:
        return
    raid_activate(tenant=tenant, raid=raid)
    # Announced even when a previous attempt opened it but failed before announcing:
    # the outbox's key sends the announcement once.
    raid_announce(tenant=tenant, raid=raid)


@job("raids.remind", per_tenant=True)
def raid_remind_job(*, tenant: Tenant, payload: dict) -> None:
    raid = _raid(payload)
    if raid is not None:
        raid_remind(tenant=tenant, raid=raid, before=timedelta(seconds=int(payload["before"])))


@job("raids.close", per_tenant=True)
def raid_close_job(*, tenant: Tenant, payload: dict) -> None:
    raid_close(tenant, int(payload["raid_id"]))
