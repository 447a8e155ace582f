"""Reads: users, and what a user may do in a tenant."""

from __future__ import annotations

from typing import Any

from accounts.models import Membership, TelegramUser
from accounts.roles import ALL_CAPABILITIES, Capability, Role, effective_capabilities


def user_get(*, telegram_id: int) -> TelegramUser | None:
    return TelegramUser.objects.filter(telegram_id=telegram_id).first()


def membership_get(*, tenant: Any, user: TelegramUser) -> Membership | None:
    return Membership.objects.filter(tenant=tenant, user=user).first()


def user_role(*, tenant: Any, user: TelegramUser) -> Role:
    membership = membership_get(tenant=tenant, user=user)
    return Role(membership.role) if membership else Role.MEMBER


def user_capabilities(*, tenant: Any, user: TelegramUser) -> frozenset[Capability]:
    """Staff hold every capability everywhere; others per their membership in ``tenant``."""
    if user.is_staff:
        return ALL_CAPABILITIES
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return frozenset()
    membership = membership_get(tenant=tenant, user=user)
    if membership is None:
        return effective_capabilities(Role.MEMBER)
    return effective_capabilities(membership.role, membership.granted, membership.revoked)


def membership_list(*, tenant: Any, roles: list[str] | None = None):
    qs = Membership.objects.filter(tenant=tenant).select_related("user").order_by("id")
    return qs.filter(role__in=roles) if roles else qs
