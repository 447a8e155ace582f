"""Host → tenant → schema, with JSON answers for unknown, suspended and deleted tenants.
A suspended tenant's domain answers 403 on every path, a deleted or unknown one 404, and
the Django admin exists on the platform's own domain only."""

from __future__ import annotations

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseNotFound, JsonResponse
from django_tenants.middleware.main import TenantMainMiddleware

from config.cache import MISS, TTLCache
from tenancy.connection import schema_connection
from tenancy.models import Domain, Tenant

# Host lookups are cached briefly per process; status changes made in this process
# clear the cache at once (tenancy.services), other processes see them within the TTL.
# Only served hosts are kept (an unknown one raises), so the bound is the domain count.
HOST_CACHE_SECONDS = 5.0
ADMIN_PREFIX = "/admin/"
HOSTS: TTLCache[str, Tenant] = TTLCache("tenancy.hosts", ttl=HOST_CACHE_SECONDS, maxsize=10_000)


class TenantRequest(HttpRequest):
    """What a Django view behind ``TenantMiddleware`` receives: the request with the
    tenant of its host (DRF views read it through ``tenancy.http.request_tenant``)."""

    tenant: Tenant


def host_cache_clear() -> None:
    HOSTS.clear()


class TenantMiddleware(TenantMainMiddleware):
    def get_tenant(self, domain_model: type[Domain], hostname: str) -> Tenant:
        tenant = HOSTS.get(hostname)
        if tenant is not MISS:
            return tenant
        # The domain table is public: look it up from the public schema.
        schema_connection.set_schema_to_public()
        tenant = super().get_tenant(domain_model, hostname)
        HOSTS.set(hostname, tenant)
        return tenant

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> JsonResponse:
        return JsonResponse(
            {"detail": f"no tenant serves the host {hostname!r}", "code": "tenant_not_found"},
            status=404,
        )

    def process_request(self, request):
        # Unlike django-tenants' version, the connection is not reset to public and back
        # on every request: that forgets the search_path it set and costs a SET per
        # request. It is switched only when the schema actually changes.
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return HttpResponseNotFound()
        try:
            tenant = self.get_tenant(Domain, hostname)
        except Domain.DoesNotExist:
            schema_connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)
        tenant.domain_url = hostname
        request.tenant = tenant
        if tenant.status == Tenant.Status.DELETED:
            schema_connection.set_schema_to_public()
            return self.no_tenant_found(request, hostname)
        if tenant.status == Tenant.Status.SUSPENDED:
            schema_connection.set_schema_to_public()
            return JsonResponse(
                {"detail": "this tenant is suspended", "code": "tenant_suspended"}, status=403
            )
        if request.path.startswith(ADMIN_PREFIX) and not tenant.is_public:
            # Staff sign in on the platform's own domain only: a tenant's domain is in its
            # owner's hands (DNS, certificates), and a login typed there would be theirs.
            schema_connection.set_schema_to_public()
            return JsonResponse(
                {"detail": "the admin is served on the platform's domain", "code": "not_found"},
                status=404,
            )
        if (
            schema_connection.schema_name != tenant.schema_name
            or schema_connection.tenant is not tenant
        ):
            schema_connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None


__all__ = ["TenantMiddleware", "TenantRequest", "host_cache_clear"]
