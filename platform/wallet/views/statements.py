"""Statements as cursor pages, newest first: a bound group's account (``manage_funds``)
and the user's own. Keyset pages on the account's entry number, so entries posted while a
client walks the pages never shift them: no line is shown twice or skipped."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from accounts.permissions import HasCapability
from accounts.roles import Capability
from config.api import CursorPagination
from notifications.selectors import bound_group_binding_get
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet.selectors import account_labels, statement_lines
from wallet.views.common import (
    CHAT_ID,
    StatementFilterSerializer,
    StatementLineSerializer,
    statement_of,
    statement_params,
    statement_queryset,
)


class StatementPagination(CursorPagination):
    # Unique per account and given in commit order (see wallet.selectors.statement_entries).
    ordering = "-account_version"


def statement_page(
    request, *, view: TenantEndpoint, tenant: Tenant, owner_kind: str, owner_id: int
) -> Response:
    statement = statement_of(
        tenant=tenant,
        owner_kind=owner_kind,
        owner_id=owner_id,
        params=statement_params(request),
    )
    paginator = StatementPagination()
    entries = paginator.paginate_queryset(statement_queryset(statement), request, view=view)
    account = statement.account
    lines = statement_lines(account=account, entries=entries) if account and entries else []
    context: dict[str, Any] = {
        "currency": statement.currency,
        "labels": account_labels(account_ids={line.counterparty_id for line in lines}),
    }
    output = StatementLineSerializer(lines, many=True, context=context)
    return paginator.get_paginated_response(output.data)


class GroupStatementView(TenantEndpoint):
    """A bound group's statement in one currency: each entry of its available (or escrow)
    account with the transfer's kind, the signed amount, the balance after it and the
    other account. Filters: transfer kinds, a date range, the counterparty."""

    permission_classes = [HasCapability.of(Capability.MANAGE_FUNDS)]
    pagination_class = StatementPagination
    requires_community = True
    community_what = "wallets belong"
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        parameters=[CHAT_ID, StatementFilterSerializer],
        responses=StatementLineSerializer(many=True),
        summary="A group's statement, newest first",
    )
    def get(self, request, chat_id: int):
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        return statement_page(
            request, view=self, tenant=self.tenant, owner_kind="group", owner_id=binding.chat_id
        )


class MyStatementView(TenantEndpoint):
    """The authenticated user's statement in this community, in one currency (filters as
    a group's)."""

    pagination_class = StatementPagination
    requires_community = True
    community_what = "wallets belong"
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        parameters=[StatementFilterSerializer],
        responses=StatementLineSerializer(many=True),
        summary="My statement, newest first",
    )
    def get(self, request):
        user_id = request.user.telegram_id
        return statement_page(
            request, view=self, tenant=self.tenant, owner_kind="user", owner_id=user_id
        )
