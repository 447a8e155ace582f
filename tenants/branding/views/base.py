"""What every branding view shares: the brand lives in a community's schema."""

from __future__ import annotations

from tenancy.api import TenantEndpoint
from tenancy.models import Tenant


class BrandEndpoint(TenantEndpoint):
    tenant: Tenant  # a community, by requires_community
    requires_community = True
    community_what = "a brand belongs"
