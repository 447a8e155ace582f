"""What a browser finds at a domain's root until the Mini App is served there."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from tenancy.middleware import TenantRequest
from tenancy.selectors import tenant_bot_username


def home(request: TenantRequest) -> HttpResponse:
    """A community's domain: its name, its bot and links to what exists; the platform's
    own domain: what Bragabot is. Names are the tenant's: the template escapes them."""
    tenant = request.tenant
    if tenant.is_public:
        return render(request, "tenancy/platform_home.html")
    context = {"name": tenant.name, "bot_username": tenant_bot_username(tenant=tenant)}
    return render(request, "tenancy/community_home.html", context)
