"""Reads of the X feed's tables (call inside the tenant's schema or pass ``tenant``)."""

from __future__ import annotations

from django.db.models import Prefetch
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from tenancy.models import Tenant
from xfeed.models import Kol, KolPost, KolSnapshot


def kol_list(*, tenant: Tenant) -> list[Kol]:
    """The community's active KOLs, by handle."""
    with tenant_context(tenant):
        return list(Kol.objects.filter(is_active=True).order_by("username", "id"))


def kol_get(*, tenant: Tenant, kol_id: int) -> Kol:
    """An active KOL of ``tenant``; 404 ``kol_not_found`` otherwise (ids of another
    tenant's KOLs name nothing here: each tenant has its own table)."""
    with tenant_context(tenant):
        kol = Kol.objects.filter(pk=kol_id, is_active=True).first()
    if kol is None:
        raise ServiceError("no such KOL", code="kol_not_found", status=404)
    return kol


def kol_posts(*, tenant: Tenant, kol_id: int, limit: int = 100) -> list[KolPost]:
    """A KOL's ``limit`` newest tracked posts, each with its snapshots (oldest first)."""
    kol = kol_get(tenant=tenant, kol_id=kol_id)
    with tenant_context(tenant):
        return list(
            KolPost.objects.filter(kol_id=kol.pk)
            .order_by("-post_id")
            .prefetch_related(
                Prefetch("snapshots", queryset=KolSnapshot.objects.order_by("taken_at"))
            )[:limit]
        )
