"""DRF permissions: a Telegram user, and a capability in the request's tenant."""

from __future__ import annotations

from rest_framework import permissions

from accounts.models import TelegramUser
from accounts.roles import Capability, Role
from accounts.selectors import user_capabilities, user_role
from tenancy.http import request_tenant


class IsTelegramUser(permissions.BasePermission):
    message = "authenticate with Authorization: tma <initData>"

    def has_permission(self, request, view) -> bool:
        return isinstance(request.user, TelegramUser)


class HasCapability(IsTelegramUser):
    """Subclass per capability with ``HasCapability.of(Capability.X)``."""

    capability: Capability

    @classmethod
    def of(cls, capability: Capability) -> type[HasCapability]:
        return type(
            f"Has_{capability.value}",
            (cls,),
            {
                "capability": capability,
                "message": f"this needs the {capability.value} capability in this tenant",
            },
        )

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        caps = getattr(request, "_capabilities", None)
        if caps is None:
            caps = user_capabilities(tenant=request_tenant(request), user=request.user)
            request._capabilities = caps
        return self.capability in caps


# The permissions several apps' views share: one class per capability.
ManageSettings = HasCapability.of(Capability.MANAGE_SETTINGS)
ManageFunds = HasCapability.of(Capability.MANAGE_FUNDS)
ManageRaids = HasCapability.of(Capability.MANAGE_RAIDS)
ManageBots = HasCapability.of(Capability.MANAGE_BOTS)


class IsTenantOwner(IsTelegramUser):
    message = "only the tenant's owner can do this"

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.user.is_staff:
            return True
        tenant = request_tenant(request)
        return tenant is not None and user_role(tenant=tenant, user=request.user) == Role.OWNER
