"""A raid's end: ``raid_close`` moves an active raid to validating when its time is up
(the ``raids.close`` job, enqueued at creation for ``ends_at``). The final validation and
the settlement plug in here."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from raids.models import Raid
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

# A raid that never started (its start job did not run before the end) ends as well.
CLOSABLE = (Raid.Status.ACTIVE, Raid.Status.SCHEDULED)


def raid_close(tenant: Tenant, raid_id: int) -> Raid | None:
    """Close the raid if it is open and its end has come: VALIDATING (idempotent: a raid
    already closed, cancelled or settled is left as it is). None for no such raid."""
    with tenant_context(tenant), transaction.atomic():
        raid = Raid.objects.select_for_update().filter(pk=raid_id).first()
        if raid is None:
            return None
        if raid.status not in CLOSABLE or raid.ends_at > timezone.now():
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
