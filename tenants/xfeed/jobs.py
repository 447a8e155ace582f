"""Recurring jobs of the X feed (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from tenancy.models import Tenant
from xfeed.conf import xfeed_mode
from xfeed.services.kol_tracking import kol_track
from xfeed.shared_poll import platform_poll

# Often enough that a due query waits little past its interval (XFEED_POLL_SECONDS and
# more): a round with nothing due reads only the communities' own tables.
POLL_EVERY = timedelta(seconds=30)


@job("xfeed.poll", every=POLL_EVERY)
def poll(*, tenant: Tenant | None, payload: dict) -> None:
    """With ``XFEED_MODE=poll``: one round for the whole platform (``platform_poll``: the
    shared queries of every community on the platform's app, then each community with
    its own app), so a platform job, not one per community. A refusal by the budget or
    a cap ends the round quietly (the next run resumes); in stream mode the stream
    worker's backfill does this, and the job does nothing. A row left from when the job
    ran per community is cancelled by the job runner (``botruntime.services.job_run``)."""
    if xfeed_mode() != "poll":
        return
    platform_poll()


@job("xfeed.kol_track", every=timedelta(minutes=15), per_tenant=True)
def kol_track_job(*, tenant: Tenant, payload: dict) -> None:
    """A round of KOL tracking (new posts, due snapshots). A refusal of the X budget or
    cap ends the round without failing the job: what was due waits for the next round.
    Any other error fails the attempt, so it is retried."""
    kol_track(tenant=tenant)
