"""What the wallet's views share: the statement's query parameters, the output of a
balance and of a statement line, and how an owner's account is found from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from tenancy.models import Tenant
from wallet.currencies import amount_decimal, currencies
from wallet.models import Account, Entry, Transfer
from wallet.selectors import StatementLine, account_find, balances, statement_entries

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)
# The accounts of an owner a statement reads: spendable, and held for open holds.
STATEMENT_ACCOUNTS = ["available", "escrow"]
OWNER_KINDS = {choice.value for choice in Account.OwnerKind}
ACCOUNT_KINDS = {choice.value for choice in Account.Kind}
TRANSFER_KINDS = [choice.value for choice in Transfer.Kind]


def exponent(currency: str) -> int:
    # An account outlives a currency removed from WALLET_CURRENCIES: it still shows, in
    # minor units.
    return currencies().get(currency, 0)


def decimal(amount: int, currency: str) -> str:
    return amount_decimal(amount, exponent(currency))


# --- balances -----------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    currency: str
    exponent: int
    available: int
    held: int

    @property
    def available_decimal(self) -> str:
        return amount_decimal(self.available, self.exponent)

    @property
    def held_decimal(self) -> str:
        return amount_decimal(self.held, self.exponent)


def balance_rows(*, tenant: Tenant, owner_kind: str, owner_id: int) -> list[Balance]:
    """Every configured currency (zero where the owner has no account yet), then any other
    the owner holds an account in."""
    found = balances(tenant=tenant, owner_kind=owner_kind, owner_id=owner_id)
    codes = list(currencies()) + sorted(set(found) - set(currencies()))
    return [
        Balance(
            currency=code,
            exponent=exponent(code),
            available=found.get(code, {}).get("available", 0),
            held=found.get(code, {}).get("escrow", 0),
        )
        for code in codes
    ]


class BalanceSerializer(serializers.Serializer):
    currency = serializers.CharField()
    exponent = serializers.IntegerField(help_text="amounts are integers of 10^-exponent units")
    available = serializers.IntegerField(help_text="spendable, in minor units")
    available_decimal = serializers.CharField(help_text='the same in units, e.g. "1.5"')
    held = serializers.IntegerField(help_text="held for open holds (raid budgets), minor units")
    held_decimal = serializers.CharField()


# --- statements ---------------------------------------------------------------------


class StatementFilterSerializer(serializers.Serializer):
    """A statement's query parameters (the cursor and page size are the paginator's)."""

    currency = serializers.CharField(
        max_length=10,
        required=False,
        help_text="default: the first of the configured currencies",
    )
    account = serializers.ChoiceField(
        choices=STATEMENT_ACCOUNTS,
        required=False,
        help_text="which of the owner's accounts: available (default) or escrow",
    )
    kind = serializers.CharField(
        max_length=200,
        required=False,
        help_text=f"transfer kinds, comma-separated: {', '.join(TRANSFER_KINDS)}",
    )
    since = serializers.DateTimeField(required=False, help_text="posted at or after (ISO 8601)")
    until = serializers.DateTimeField(required=False, help_text="posted before (ISO 8601)")
    counterparty = serializers.CharField(
        max_length=60,
        required=False,
        help_text="the other account, as statement lines name it: "
        "<owner kind>:<owner id>:<account kind>, e.g. group:-100123:escrow",
    )

    def validate_currency(self, value: str) -> str:
        code = value.strip().upper()
        if code not in currencies():
            raise serializers.ValidationError(
                f"unknown currency {value!r}; one of {', '.join(currencies())}",
                code="unknown_currency",
            )
        return code

    def validate_kind(self, value: str) -> list[str]:
        kinds = [part.strip() for part in value.split(",") if part.strip()]
        unknown = sorted(set(kinds) - set(TRANSFER_KINDS))
        if unknown:
            raise serializers.ValidationError(
                f"unknown transfer kind {', '.join(unknown)}; one of {', '.join(TRANSFER_KINDS)}",
                code="unknown_kind",
            )
        return kinds

    def validate_counterparty(self, value: str) -> tuple[str, int, str]:
        owner_kind, _, rest = value.partition(":")
        owner_id, _, account_kind = rest.partition(":")
        digits = owner_id.removeprefix("-")
        if (
            owner_kind not in OWNER_KINDS
            or account_kind not in ACCOUNT_KINDS
            or not (digits.isascii() and digits.isdigit() and len(digits) <= 19)
            or not -(2**63) <= int(owner_id) < 2**63
        ):
            raise serializers.ValidationError(
                "counterparty is <owner kind>:<owner id>:<account kind>, e.g. user:42:available",
                code="invalid_counterparty",
            )
        return owner_kind, int(owner_id), account_kind

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since and until and since >= until:
            raise serializers.ValidationError("since must be before until", code="invalid_range")
        return attrs


@dataclass(frozen=True)
class Statement:
    """The account a statement reads (None: the owner has none yet, so no lines) and the
    selector's filters."""

    account: Account | None
    currency: str
    filters: dict[str, Any]
    empty: bool  # a counterparty that does not exist: nothing can match


def statement_of(
    *, tenant: Tenant, owner_kind: str, owner_id: int, params: dict[str, Any]
) -> Statement:
    currency = params.get("currency") or next(iter(currencies()))
    account = account_find(
        tenant=tenant,
        owner_kind=owner_kind,
        owner_id=owner_id,
        currency=currency,
        kind=params.get("account") or "available",
    )
    filters: dict[str, Any] = {
        "kinds": params.get("kind") or None,
        "since": params.get("since"),
        "until": params.get("until"),
    }
    empty = False
    if "counterparty" in params:
        other_kind, other_id, other_account = params["counterparty"]
        other = account_find(
            tenant=None if other_kind == "platform" else tenant,
            owner_kind=other_kind,
            owner_id=other_id,
            currency=currency,
            kind=other_account,
        )
        filters["counterparty"] = other
        empty = other is None
    return Statement(account=account, currency=currency, filters=filters, empty=empty)


def statement_queryset(statement: Statement) -> QuerySet[Entry]:
    if statement.account is None or statement.empty:
        return Entry.objects.none()
    return statement_entries(account=statement.account, **statement.filters)


def statement_params(request) -> dict[str, Any]:
    filters = StatementFilterSerializer(data=request.query_params)
    filters.is_valid(raise_exception=True)
    return dict(filters.validated_data)


class StatementLineSerializer(serializers.Serializer):
    entry_id = serializers.IntegerField()
    transfer_id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="the transfer's kind")
    currency = serializers.SerializerMethodField()
    amount = serializers.IntegerField(help_text="signed minor units: negative when paid out")
    amount_decimal = serializers.SerializerMethodField()
    balance_after = serializers.IntegerField(help_text="minor units")
    balance_after_decimal = serializers.SerializerMethodField()
    counterparty = serializers.SerializerMethodField(
        help_text="the other account: <owner kind>:<owner id>:<account kind>"
    )
    metadata = serializers.SerializerMethodField()

    def get_currency(self, line: StatementLine) -> str:
        currency: str = self.context["currency"]
        return currency

    def get_amount_decimal(self, line: StatementLine) -> str:
        return decimal(line.amount, self.context["currency"])

    def get_balance_after_decimal(self, line: StatementLine) -> str:
        return decimal(line.balance_after, self.context["currency"])

    def get_counterparty(self, line: StatementLine) -> str:
        label: str = self.context["labels"].get(line.counterparty_id, "")
        return label

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metadata(self, line: StatementLine) -> dict[str, Any]:
        return line.metadata
