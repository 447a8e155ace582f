"""Host → tenant → schema, with JSON answers for unknown, suspended and deleted tenants."""

from __future__ import annotations

import time

from django.db import connection
from django.http import JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware

from tenancy.models import Domain, Tenant

# Host lookups are cached briefly per process; status changes made in this process
# clear the cache at once (tenancy.services), other processes see them within the TTL.
HOST_CACHE_SECONDS = 5.0
_host_cache: dict[str, tuple[float, Tenant]] = {}


def host_cache_clear() -> None:
    _host_cache.clear()


class TenantMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        now = time.monotonic()
        cached = _host_cache.get(hostname)
        if cached and now - cached[0] < HOST_CACHE_SECONDS:
            return cached[1]
        tenant = super().get_tenant(domain_model, hostname)
        _host_cache[hostname] = (now, tenant)
        return tenant

    def no_tenant_found(self, request, hostname):
        return JsonResponse(
            {"detail": f"no tenant serves the host {hostname!r}", "code": "tenant_not_found"},
            status=404,
        )

    def process_request(self, request):
        response = super().process_request(request)
        if response is not None:
            return response
        tenant: Tenant = request.tenant
        if tenant.status == Tenant.Status.SUSPENDED and not request.path.startswith("/admin/"):
            connection.set_schema_to_public()
            return JsonResponse(
                {"detail": "this tenant is suspended", "code": "tenant_suspended"}, status=403
            )
        if tenant.status == Tenant.Status.DELETED:
            connection.set_schema_to_public()
            return self.no_tenant_found(request, tenant.domain_url)
        return None


__all__ = ["TenantMiddleware", "host_cache_clear"]
