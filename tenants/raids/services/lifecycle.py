"""A raid's end: ``raid_close`` moves an active raid to validating when its time is up
(the ``raids.close`` job at ``ends_at``, or the first validation pass after it); once the
final validation pass leaves nothing pending, ``raid_finish`` (the ``raids.finish`` job)
settles the pool, publishes the results and awards the points."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from raids.models import Raid
from raids.services.leaderboard import raid_points_award
from raids.services.results_announce import raid_results_announce
from raids.services.settlement import raid_settle
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

# A raid that never started (its start job did not run before the end) ends as well.
CLOSABLE = (Raid.Status.ACTIVE, Raid.Status.SCHEDULED)


def raid_close(*, tenant: Tenant, raid_id: int, now: datetime | None = None) -> Raid | None:
    """Close the raid if it is open and its end has come: VALIDATING (idempotent: a raid
    already closed, cancelled or settled is left as it is). None for no such raid."""
    now = now or timezone.now()
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.select_for_update().filter(pk=raid_id).first()
        if raid is None:
            return None
        if raid.status not in CLOSABLE or raid.ends_at > now:
            return raid
        was = raid.status
        raid.status = Raid.Status.VALIDATING
        raid.save(update_fields=["status"])
        history.record(
            action="raids.raid_ended",
            tenant=tenant,
            target=("raid", raid.pk),
            data={"was": was, "participants": raid.participants_count},
        )
    logger.info("raids.raid_ended", extra={"tenant": tenant.slug, "raid_id": raid_id})
    return raid


def raid_finish(*, tenant: Tenant, raid_id: int) -> Raid | None:
    """Settle a raid whose validation is final, then queue its results (the group's
    summary, each participant's own) and add its points to the leaderboards. Each step
    happens once whatever runs it again, so a retried job resumes where the last attempt
    stopped. None for no such raid; a cancelled raid is left as it is."""
    with tenant_context(tenant):
        raid = Raid.objects.filter(pk=raid_id).first()
    if raid is None or raid.status == Raid.Status.CANCELLED:
        return raid
    if raid.status == Raid.Status.VALIDATING:
        raid_settle(tenant=tenant, raid=raid)
        with tenant_context(tenant):
            raid.refresh_from_db()
    if raid.status != Raid.Status.SETTLED:
        return raid
    raid_results_announce(tenant=tenant, raid=raid)
    raid_points_award(tenant=tenant, raid=raid)
    logger.info("raids.raid_finished", extra={"tenant": tenant.slug, "raid_id": raid_id})
    return raid
