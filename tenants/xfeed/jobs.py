"""Recurring jobs of the X feed (``config.job_registry``)."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job
from tenancy.models import Tenant
from xfeed.conf import xfeed_mode
from xfeed.polling import tenant_poll

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
