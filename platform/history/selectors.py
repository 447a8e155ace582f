"""Reads of the audit log, always scoped to one tenant (None: platform entries)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from history.models import Entry


def entry_list(
    *,
    tenant: Any,
    actor_type: str | None = None,
    actor_id: str | None = None,
    action_prefix: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Entry]:
    tenant_id = getattr(tenant, "pk", tenant)
    if getattr(tenant, "schema_name", None) == "public":
        tenant_id = None
    qs = Entry.objects.filter(tenant_id=tenant_id) if tenant_id else Entry.objects.filter(
        tenant_id__isnull=True
    )
    if actor_type:
        qs = qs.filter(actor_type=actor_type)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-id")
