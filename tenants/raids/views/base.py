"""What the raids views share: the community-scoped base (raids live in a community's
schema: the platform's own domain answers 404 ``not_a_community``) and the raid id's
OpenAPI parameter. Group-scoped views (giveaways, contests) use community's
``GroupEndpoint``; the ``manage_raids`` permission is ``accounts.permissions.ManageRaids``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter

from tenancy.api import TenantEndpoint
from tenancy.models import Tenant

RAID_ID = OpenApiParameter("raid_id", int, OpenApiParameter.PATH, description="the raid's id")


class RaidEndpoint(TenantEndpoint):
    requires_community = True
    community_what = "raids belong"
    tenant: Tenant  # a community, by requires_community
