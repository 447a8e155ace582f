"""Recurring jobs of the X feed (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from tenancy.models import Tenant
from xfeed.services.kol_tracking import kol_track


@job("xfeed.kol_track", every=timedelta(minutes=15), per_tenant=True)
def kol_track_job(*, tenant: Tenant, payload: dict) -> None:
    """A round of KOL tracking (new posts, due snapshots). A refusal of the X budget or
    cap ends the round without failing the job: what was due waits for the next round.
    Any other error fails the attempt, so it is retried."""
    kol_track(tenant=tenant)
