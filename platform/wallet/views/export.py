"""A bound group's statement as CSV (``manage_funds``): every line matching the filters,
streamed a page at a time, so an export of any length holds one page in memory."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema

from accounts.permissions import HasCapability
from accounts.roles import Capability
from config.csv_export import CsvExport, csv_response, csv_writer
from notifications.selectors import bound_group_binding_get
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet.selectors import account_labels, statement_iter
from wallet.views.common import (
    CHAT_ID,
    Statement,
    StatementFilterSerializer,
    decimal,
    statement_of,
    statement_params,
)

logger = logging.getLogger(__name__)

HEADER = [
    "entry_id",
    "transfer_id",
    "created_at",
    "kind",
    "currency",
    "amount",
    "amount_minor",
    "balance_after",
    "balance_after_minor",
    "counterparty",
    "metadata",
]


def csv_rows(statement: Statement) -> Iterator[str]:
    writer = csv_writer()
    yield writer.writerow(HEADER)
    if statement.account is None or statement.empty:
        return
    currency = statement.currency
    for lines in statement_iter(account=statement.account, **statement.filters):
        labels = account_labels(account_ids={line.counterparty_id for line in lines})
        for line in lines:
            # No cell can start with = + @ or a tab (what spreadsheets run as formulas):
            # numbers, ISO dates, fixed words, "<kind>:<id>:<kind>" labels and JSON objects.
            yield writer.writerow(
                [
                    line.entry_id,
                    line.transfer_id,
                    line.created_at.isoformat(),
                    line.kind,
                    currency,
                    decimal(line.amount, currency),
                    line.amount,
                    decimal(line.balance_after, currency),
                    line.balance_after,
                    labels.get(line.counterparty_id, ""),
                    json.dumps(line.metadata, sort_keys=True, separators=(",", ":")),
                ]
            )


class GroupStatementCsvView(CsvExport, TenantEndpoint):
    """A bound group's statement as a CSV file (same filters as the statement, all pages),
    newest first. Columns: entry_id, transfer_id, created_at, kind, currency, amount
    (decimal, by the currency's exponent), amount_minor, balance_after,
    balance_after_minor, counterparty, metadata (JSON)."""

    permission_classes = [HasCapability.of(Capability.MANAGE_FUNDS)]
    requires_community = True
    community_what = "wallets belong"
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        parameters=[CHAT_ID, StatementFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="a header row, then one row per entry"
            )
        },
        summary="A group's statement as CSV",
    )
    def get(self, request, chat_id: int):
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        statement = statement_of(
            tenant=self.tenant,
            owner_kind="group",
            owner_id=binding.chat_id,
            params=statement_params(request),
        )
        logger.info(
            "wallet.statement_exported",
            extra={
                "tenant_id": self.tenant.pk,
                "chat_id": binding.chat_id,
                "currency": statement.currency,
                "user_id": request.user.telegram_id,
            },
        )
        filename = f"statement-{binding.chat_id}-{statement.currency}.csv"
        return csv_response(csv_rows(statement), filename)
