"""Reads of the X feed's tables (call inside the tenant's schema or pass ``tenant``)."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from tenancy.models import Tenant
from tenancy.selectors import community_check
from xfeed.models import Kol, KolPost, KolSnapshot


def kol_list(*, tenant: Tenant) -> QuerySet[Kol]:
    """The community's active KOLs (evaluated in the tenant's schema, as a request's is)."""
    community_check(tenant)
    return Kol.objects.filter(is_active=True)


def kol_get(*, tenant: Tenant, kol_id: int) -> Kol:
    """An active KOL of ``tenant``; 404 ``kol_not_found`` otherwise (ids of another
    tenant's KOLs name nothing here: each tenant has its own table)."""
    with tenant_context(tenant):
        kol = Kol.objects.filter(pk=kol_id, is_active=True).first()
    if kol is None:
        raise ServiceError("no such KOL", code="kol_not_found", status=404)
    return kol


def kol_posts(*, tenant: Tenant, kol_id: int) -> QuerySet[KolPost]:
    """An active KOL's tracked posts, each with its snapshots (oldest first); evaluated in
    the tenant's schema."""
    kol = kol_get(tenant=tenant, kol_id=kol_id)
    return KolPost.objects.filter(kol_id=kol.pk).prefetch_related(
        Prefetch("snapshots", queryset=KolSnapshot.objects.order_by("taken_at"))
    )
