"""The X client's durable jobs (run by the bot runtime, declared through
config.job_registry): refreshing linked X accounts' followers and usernames."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from config.job_registry import job
from xclient.links import links_refresh
from xclient.selectors import platform_tenant

if TYPE_CHECKING:
    from tenancy.models import Tenant


@job("xclient.links_refresh", every=timedelta(hours=1), lease=timedelta(minutes=10))
def refresh_links(*, tenant: Tenant | None, payload: dict[str, Any]) -> None:
    # Links older than a day, 100 per GET /2/users, at the lowest priority on the
    # platform's app; a refused read ends the round and the next run goes on.
    platform = platform_tenant()
    if platform is not None:
        links_refresh(tenant=platform)
