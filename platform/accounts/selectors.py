"""Reads: users, and what a user may do in a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import FilteredRelation, Q, QuerySet
from django.db.models.functions import Coalesce

from accounts.models import Membership, TelegramUser, TenantProfile
from accounts.roles import ALL_CAPABILITIES, Capability, Role, effective_capabilities
from config.prepared import fetch_prepared
from tenancy.models import Tenant


def user_get(*, telegram_id: int) -> TelegramUser | None:
    return TelegramUser.objects.filter(telegram_id=telegram_id).first()


_NOT_FOUND = object()


def staff_list() -> QuerySet[TelegramUser]:
    """Platform staff (every capability in every tenant), by Telegram id."""
    return TelegramUser.objects.filter(is_staff=True).order_by("telegram_id")


def membership_get(*, tenant: Tenant | None, user: TelegramUser) -> Membership | None:
    """Memoised on the user object: a request asks for the role and the capabilities of
    the same user several times (permission class, view). accounts.services clears it."""
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant_id is None:
        return None  # no tenant (a view called without the middleware): no membership
    cache = user.__dict__.setdefault("_memberships", {})
    found = cache.get(tenant_id)
    if found is None:
        found = Membership.objects.filter(tenant_id=tenant_id, user=user).first() or _NOT_FOUND
        cache[tenant_id] = found
    return None if found is _NOT_FOUND else found


_USER_FIELDS = TelegramUser._meta.concrete_fields
_MEMBERSHIP_FIELDS = Membership._meta.concrete_fields
_PROFILE_FIELDS = TenantProfile._meta.concrete_fields
# Hand-written: it runs on every authenticated request, and the ORM's query building
# cost more than the query itself. Column names come from the models, not from input.
_SELECT_COLUMNS = ", ".join(
    [f"u.{f.column}" for f in _USER_FIELDS]
    + [f"m.{f.column}" for f in _MEMBERSHIP_FIELDS]
    + [f"p.{f.column}" for f in _PROFILE_FIELDS]
)
# Shared tables live in public: named so, the plan does not depend on search_path.
_USER_WITH_MEMBERSHIP = (
    f"SELECT {_SELECT_COLUMNS} FROM public.accounts_telegramuser u "  # noqa: S608
    "LEFT JOIN public.accounts_membership m ON m.user_id = u.id AND m.tenant_id = $1 "
    "LEFT JOIN public.accounts_tenantprofile p ON p.user_id = u.id AND p.tenant_id = $1 "
    "WHERE u.telegram_id = $2"
)


def _instance(model: Any, fields: Any, values: tuple) -> Any:
    """A model instance from raw column values, with each field's database converter
    applied (jsonb arrives as text and JSONField decodes it)."""
    converted = [
        f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
        for f, v in zip(fields, values, strict=True)
    ]
    return model.from_db("default", [f.attname for f in fields], converted)


def user_with_membership(*, telegram_id: int, tenant: Tenant | None) -> TelegramUser | None:
    """The user, their membership and their tenant-local profile in ``tenant`` in one
    query (every authenticated request needs them); the membership is memoised for
    membership_get, the profile for tenant_profile_get."""
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant_id is None:
        return user_get(telegram_id=telegram_id)
    row = fetch_prepared(
        "accounts_user_with_membership",
        _USER_WITH_MEMBERSHIP,
        ("bigint", "bigint"),
        (tenant_id, telegram_id),
    )
    if row is None:
        return None
    split = len(_USER_FIELDS)
    profile_at = split + len(_MEMBERSHIP_FIELDS)
    user = _instance(TelegramUser, _USER_FIELDS, row[:split])
    membership: Any = _NOT_FOUND
    if row[split] is not None:
        membership = _instance(Membership, _MEMBERSHIP_FIELDS, row[split:profile_at])
    profile: Any = _NOT_FOUND
    if row[profile_at] is not None:
        profile = _instance(TenantProfile, _PROFILE_FIELDS, row[profile_at:])
    user.__dict__["_memberships"] = {tenant_id: membership}
    user.__dict__["_tenant_profiles"] = {tenant_id: profile}
    return user


def membership_forget(user: TelegramUser) -> None:
    user.__dict__.pop("_memberships", None)


# What a tenant shows of a user: its own profile row if its bot signed one, else the
# global profile (accounts.models.TenantProfile says why).
PROFILE_FIELDS = ("username", "first_name", "last_name", "language_code", "photo_url", "is_premium")


def tenant_profile_get(*, tenant: Tenant | None, user: TelegramUser) -> TenantProfile | None:
    """The user's profile as ``tenant``'s bot signed it (None: it signed nothing that
    differs from the global profile). Memoised on the user object like membership_get."""
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant_id is None:
        return None
    cache = user.__dict__.setdefault("_tenant_profiles", {})
    found = cache.get(tenant_id)
    if found is None:
        found = TenantProfile.objects.filter(tenant_id=tenant_id, user=user).first() or _NOT_FOUND
        cache[tenant_id] = found
    return None if found is _NOT_FOUND else found


def tenant_profile_forget(user: TelegramUser) -> None:
    user.__dict__.pop("_tenant_profiles", None)


def user_profile(*, tenant: Tenant | None, user: TelegramUser) -> dict[str, Any]:
    """The profile fields ``tenant`` shows for ``user``."""
    local = tenant_profile_get(tenant=tenant, user=user)
    source = local if local is not None else user
    return {field: getattr(source, field) for field in PROFILE_FIELDS}


def user_role(*, tenant: Tenant | None, user: TelegramUser) -> Role:
    membership = membership_get(tenant=tenant, user=user)
    return Role(membership.role) if membership else Role.MEMBER


def profile_view(*, tenant: Tenant, user: TelegramUser) -> dict[str, Any]:
    """What /profile shows: the user's role and capabilities in ``tenant``."""
    return {
        "role": str(user_role(tenant=tenant, user=user)),
        "capabilities": sorted(str(c) for c in user_capabilities(tenant=tenant, user=user)),
        "is_staff": user.is_staff,
    }


def user_capabilities(*, tenant: Tenant | None, user: TelegramUser) -> frozenset[Capability]:
    """Staff hold every capability everywhere; others per their membership in ``tenant``."""
    if user.is_staff:
        return ALL_CAPABILITIES
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return frozenset()
    membership = membership_get(tenant=tenant, user=user)
    if membership is None:
        return effective_capabilities(Role.MEMBER)
    return effective_capabilities(membership.role, membership.granted, membership.revoked)


def membership_list(
    *, tenant: Tenant | None, roles: Sequence[str] | None = None
) -> QuerySet[Membership]:
    """Memberships with their users; ``profile_<field>`` carries the name this tenant
    shows (its own profile row when it has one, else the global profile)."""
    local = FilteredRelation(
        "user__tenant_profiles", condition=Q(user__tenant_profiles__tenant=tenant)
    )
    qs = (
        Membership.objects.filter(tenant=tenant)
        .select_related("user")
        .annotate(
            local_profile=local,
            **{
                f"profile_{field}": Coalesce(f"local_profile__{field}", f"user__{field}")
                for field in ("username", "first_name", "last_name")
            },
        )
        .order_by("id")
    )
    return qs.filter(role__in=roles) if roles else qs
