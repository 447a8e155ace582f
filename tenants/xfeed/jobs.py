"""Recurring jobs of the X feed (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from tenancy.models import Tenant
from xfeed.conf import xfeed_mode
from xfeed.polling import tenant_poll
from xfeed.services.kol_tracking import kol_track

# Often enough that a due query waits little past its interval (XFEED_POLL_SECONDS and
# more): a round with nothing due reads only the community's own tables.
POLL_EVERY = timedelta(seconds=30)


@job("xfeed.poll", every=POLL_EVERY, per_tenant=True)
def poll(*, tenant: Tenant, payload: dict) -> None:
    """With ``XFEED_MODE=poll``: search the community's due queries (``tenant_poll``).
    A refusal by the budget or the cap ends the round quietly (the next run resumes);
    in stream mode the stream worker's backfill does this, and the job does nothing."""
    if xfeed_mode() != "poll":
        return
    tenant_poll(tenant=tenant)


@job("xfeed.kol_track", every=timedelta(minutes=15), per_tenant=True)
def kol_track_job(*, tenant: Tenant, payload: dict) -> None:
    """A round of KOL tracking (new posts, due snapshots). A refusal of the X budget or
    cap ends the round without failing the job: what was due waits for the next round.
    Any other error fails the attempt, so it is retried."""
    kol_track(tenant=tenant)
