"""The base of every tenant-scoped API view.

``TenantMainMiddleware`` picks the tenant from the request's host; a view derives from
``TenantEndpoint`` and finds it in ``self.tenant``, resolved once per request after DRF's
authentication, permission and throttle checks (``APIView.initial``), so a refused call
answers 401/403 before any lookup. A view whose data lives in a community sets
``requires_community = True``: on the platform's own domain it answers 404
``not_a_community`` before its handler runs, and ``self.tenant`` is always a community.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.views import APIView

from tenancy.http import request_tenant
from tenancy.models import Tenant
from tenancy.selectors import community_check


# No docstring on a base: drf-spectacular describes each operation with the first
# docstring it finds on the view's classes, so a base's would document every view.
class TenantEndpoint(APIView):
    # ``self.tenant`` in every handler is the request's tenant; with ``requires_community``
    # it is a community, never the platform's public tenant.
    requires_community: ClassVar[bool] = False
    # Completes the 404's message: "<community_what> to a community; use the
    # community's own domain".
    community_what: ClassVar[str] = "this belongs"

    tenant: Tenant | None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # Content negotiation, authentication, permissions and throttles first: a refused
        # call never reaches the lookup.
        super().initial(request, *args, **kwargs)
        tenant = request_tenant(request)
        if self.requires_community:
            tenant = community_check(tenant, what=self.community_what)
        self.tenant = tenant
