"""What every branding view shares: the brand lives in a community's schema."""

from __future__ import annotations

from tenancy.api import TenantEndpoint


class BrandEndpoint(TenantEndpoint):
    requires_community = True
    community_what = "a brand belongs"
