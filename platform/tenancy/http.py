"""The tenant of an API request: the one way views, permissions and authentication read
it. Apart from ``tenancy.api`` because DRF imports the authentication and permission
classes while ``rest_framework.views`` is still loading: this module must not import it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rest_framework.request import Request

    from tenancy.models import Tenant


def request_tenant(request: Request) -> Tenant | None:
    """The tenant ``TenantMainMiddleware`` resolved from the request's host (None where no
    middleware ran, as for a view called directly)."""
    return getattr(request._request, "tenant", None)
