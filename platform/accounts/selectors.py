"""Reads: users, and what a user may do in a tenant."""

from __future__ import annotations

from typing import Any

from django.db import connection

from accounts.models import Membership, TelegramUser
from accounts.roles import ALL_CAPABILITIES, Capability, Role, effective_capabilities
from config.prepared import execute_prepared


def user_get(*, telegram_id: int) -> TelegramUser | None:
    return TelegramUser.objects.filter(telegram_id=telegram_id).first()


_NOT_FOUND = object()


def membership_get(*, tenant: Any, user: TelegramUser) -> Membership | None:
    """Memoised on the user object: a request asks for the role and the capabilities of
    the same user several times (permission class, view). accounts.services clears it."""
    tenant_id = getattr(tenant, "pk", tenant)
    cache = user.__dict__.setdefault("_memberships", {})
    found = cache.get(tenant_id)
    if found is None:
        found = Membership.objects.filter(tenant_id=tenant_id, user=user).first() or _NOT_FOUND
        cache[tenant_id] = found
    return None if found is _NOT_FOUND else found


_USER_FIELDS = TelegramUser._meta.concrete_fields
_MEMBERSHIP_FIELDS = Membership._meta.concrete_fields
# Hand-written: it runs on every authenticated request, and the ORM's query building
# cost more than the query itself. Column names come from the models, not from input.
_SELECT_COLUMNS = ", ".join(
    [f"u.{f.column}" for f in _USER_FIELDS] + [f"m.{f.column}" for f in _MEMBERSHIP_FIELDS]
)
# Shared tables live in public: named so, the plan does not depend on search_path.
_USER_WITH_MEMBERSHIP = (
    f"SELECT {_SELECT_COLUMNS} FROM public.accounts_telegramuser u "  # noqa: S608
    "LEFT JOIN public.accounts_membership m ON m.user_id = u.id AND m.tenant_id = $1 "
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


def user_with_membership(*, telegram_id: int, tenant: Any) -> TelegramUser | None:
    """The user and their membership in ``tenant`` in one query (every authenticated
    request needs both); the membership is memoised for membership_get."""
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant_id is None:
        return user_get(telegram_id=telegram_id)
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            "accounts_user_with_membership",
            _USER_WITH_MEMBERSHIP,
            ("bigint", "bigint"),
            (tenant_id, telegram_id),
        )
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(_USER_FIELDS)
    user = _instance(TelegramUser, _USER_FIELDS, row[:split])
    membership: Any = _NOT_FOUND
    if row[split] is not None:
        membership = _instance(Membership, _MEMBERSHIP_FIELDS, row[split:])
    user.__dict__["_memberships"] = {tenant_id: membership}
    return user


def membership_forget(user: TelegramUser) -> None:
    user.__dict__.pop("_memberships", None)


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
