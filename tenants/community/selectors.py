"""Reads of a tenant's groups. Querysets are lazy: call these inside the tenant's schema
(an API request on the tenant's domain, or ``tenant_context``); ``community_check``
refuses any other schema so a query never lands in the wrong tenant."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import QuerySet

from community.models import Group, GroupAdmin
from tenancy.selectors import community_check as tenancy_community_check
from tenancy.selectors import group_not_found


def community_check(tenant: Any) -> None:
    """Group data lives only in community tenants' schemas (the public tenant has none)."""
    tenancy_community_check(tenant, what="groups belong")


def _schema_check(tenant: Any) -> None:
    community_check(tenant)
    if connection.schema_name != tenant.schema_name:
        raise RuntimeError(
            f"community selectors for {tenant.schema_name!r} called in schema "
            f"{connection.schema_name!r}; wrap the call in tenant_context(tenant)"
        )


def group_list(*, tenant: Any) -> QuerySet[Group]:
    """The tenant's bound (active) groups."""
    _schema_check(tenant)
    return Group.objects.filter(is_active=True)


def bound_group_get(*, tenant: Any, chat_id: int, for_update: bool = False) -> Group:
    """The tenant's bound group ``chat_id`` (locked until the caller's transaction ends
    with ``for_update``); 404 ``group_not_found`` for any other chat. How a view or a
    service finds the group an operation names."""
    _schema_check(tenant)
    groups = Group.objects.select_for_update() if for_update else Group.objects
    group = groups.filter(chat_id=chat_id, is_active=True).first()
    if group is None:
        raise group_not_found(chat_id=chat_id)
    return group


def group_admin_list(*, tenant: Any, chat_id: int) -> QuerySet[GroupAdmin]:
    _schema_check(tenant)
    return GroupAdmin.objects.filter(group__chat_id=chat_id, group__is_active=True)
