"""Accounts and transfers: the only code that moves money between two accounts."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.db import DatabaseError, connection

import history.services as history
from config.prepared import fetch_prepared
from history.services import SYSTEM, Actor
from wallet.currencies import amount_format, currencies
from wallet.errors import SQLSTATE_CODES, WalletError
from wallet.models import MAX_KEY, Account, Transfer
from wallet.services.retry import atomic_retry, pgcode

if TYPE_CHECKING:
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)

MAX_AMOUNT = 2**63 - 1
# Keys the services derive for the transfers of a hold; callers cannot take them.
RESERVED_KEY_PREFIX = "hold:"

SYSTEM_KINDS = {Account.Kind.EXTERNAL, Account.Kind.FEES}
TRANSFER_KINDS = frozenset(Transfer.Kind.values)  # `.values` builds a list on every read
_TRANSFER_COLUMNS = [field.attname for field in Transfer._meta.concrete_fields]

_POST = "SELECT * FROM public.wallet_transfer_post($1, $2, $3, $4, $5, $6, $7, $8, $9)"
_POST_TYPES = (
    "bigint", "bigint", "bigint", "bigint", "text", "text", "text", "jsonb", "bigint",
)  # fmt: skip
# The transfer and its audit entry in one statement: outside a caller's transaction it
# is one round trip, and the account rows stay locked only while the server runs it
# (not while the client takes its turn). The entry's values come from history.services;
# its target is the new transfer's id; a replay writes none.
# Each placeholder cast to its column's type (a statement sent unprepared has no
# declared parameter types, DB_PREPARED_STATEMENTS=0).
_AUDIT_TYPES = tuple(
    "jsonb" if column == "data" else sql_type
    for column, sql_type in zip(history.RECORD_COLUMNS, history.RECORD_TYPES, strict=True)
)
_AUDIT_VALUES = ", ".join(
    "t.transfer_id::text" if column == "target_id" else f"${10 + n}::{sql_type}"
    for n, (column, sql_type) in enumerate(zip(history.RECORD_COLUMNS, _AUDIT_TYPES, strict=True))
)
# Built from constants only (column names and placeholders), never from input.
_AUDITED_POST = f"""
WITH t AS ({_POST}),
     audit AS (INSERT INTO public.history_entry ({", ".join(history.RECORD_COLUMNS)})
               SELECT {_AUDIT_VALUES} FROM t WHERE NOT t.replayed)
SELECT transfer_id, created_at, replayed FROM t
"""  # noqa: S608
_AUDITED_POST_TYPES = _POST_TYPES + _AUDIT_TYPES


def is_system_account(*, owner_kind: str, kind: str) -> bool:
    """System accounts may go below zero: where money enters and leaves the ledger
    (external), what fees collect into, and anything the platform itself owns."""
    return kind in SYSTEM_KINDS or owner_kind == Account.OwnerKind.PLATFORM


def _tenant_id(tenant: Tenant | None) -> int | None:
    return tenant.pk if tenant is not None else None


def currency_check(currency: str) -> None:
    if currency not in currencies():
        raise WalletError(f"unknown currency {currency!r}", code="unknown_currency")


def _owner_check(*, tenant: Tenant | None, owner_kind: str, owner_id: int, kind: str) -> None:
    if owner_kind not in Account.OwnerKind.values:
        raise WalletError(f"unknown owner kind {owner_kind!r}", code="invalid_account")
    if kind not in Account.Kind.values:
        raise WalletError(f"unknown account kind {kind!r}", code="invalid_account")
    if isinstance(owner_id, bool) or not isinstance(owner_id, int):
        raise WalletError("owner_id is an integer", code="invalid_account")
    platform = owner_kind == Account.OwnerKind.PLATFORM
    if platform and (tenant is not None or owner_id != 0):
        raise WalletError("platform accounts have no tenant and owner 0", code="invalid_account")
    if not platform and tenant is None:
        raise WalletError("only platform accounts have no tenant", code="invalid_account")


def account_get_or_create(
    *, tenant: Tenant | None, owner_kind: str, owner_id: int, currency: str, kind: str
) -> Account:
    """The account of (tenant, owner, currency, kind), created empty on first use. Safe
    under concurrency: the unique constraint decides, the loser reads the winner's row."""
    currency_check(currency)
    _owner_check(tenant=tenant, owner_kind=owner_kind, owner_id=owner_id, kind=kind)
    account, _ = Account.objects.get_or_create(
        tenant=tenant,
        owner_kind=owner_kind,
        owner_id=owner_id,
        currency=currency,
        kind=kind,
        defaults={"is_system": is_system_account(owner_kind=owner_kind, kind=kind)},
    )
    return account


_BULK_CREATE = """
INSERT INTO public.wallet_account
       (tenant_id, owner_kind, owner_id, currency, kind, balance, version, is_system, created_at)
SELECT %s, %s, o, %s, %s, 0, 0, %s, now() FROM unnest(%s::bigint[]) AS o
ON CONFLICT (tenant_id, owner_kind, owner_id, currency, kind) DO NOTHING
"""


def accounts_get_or_create(
    *, tenant: Tenant, owner_kind: str, owner_ids: list[int], currency: str, kind: str
) -> dict[int, Account]:
    """``account_get_or_create`` for many owners in two statements (a raid's payees):
    owner_id → Account."""
    currency_check(currency)
    for owner_id in owner_ids:
        _owner_check(tenant=tenant, owner_kind=owner_kind, owner_id=owner_id, kind=kind)
    unique = sorted(set(owner_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            _BULK_CREATE,
            [
                tenant.pk,
                owner_kind,
                currency,
                kind,
                is_system_account(owner_kind=owner_kind, kind=kind),
                unique,
            ],
        )
    found = Account.objects.filter(
        tenant=tenant, owner_kind=owner_kind, currency=currency, kind=kind, owner_id__in=unique
    )
    return {account.owner_id: account for account in found}


def amount_check(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise WalletError("amounts are integers in minor units", code="invalid_amount")
    if not 0 < amount <= MAX_AMOUNT:
        raise WalletError("the amount must be positive", code="invalid_amount")


def key_check(key: str) -> None:
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY:
        raise WalletError(f"an idempotency key is 1 to {MAX_KEY} characters", code="invalid_key")


def accounts_check(*, tenant: Tenant | None, debit: Account, credit: Account) -> None:
    """What can be refused from the instances alone; the database function checks the
    stored rows again (an instance may be stale)."""
    if debit.pk is None or credit.pk is None:
        raise WalletError("both accounts must exist", code="account_not_found")
    if debit.pk == credit.pk:
        raise WalletError("debit and credit are the same account", code="same_account")
    if debit.currency != credit.currency:
        raise WalletError(
            f"cannot move {debit.currency} into a {credit.currency} account",
            code="currency_mismatch",
        )
    tenant_id = _tenant_id(tenant)
    for account in (debit, credit):
        if account.tenant_id != tenant_id and not (account.tenant_id is None and account.is_system):
            raise WalletError(
                f"account {account.pk} is not an account of this tenant",
                code="account_not_in_tenant",
            )


def transfer_post(
    *,
    tenant: Tenant | None,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> Transfer:
    """Move ``amount`` minor units from ``debit`` to ``credit``, once per key.

    The same key with the same parameters returns the first transfer (``replayed`` set)
    and moves nothing; with other parameters it raises ``idempotency_conflict``.
    ``tenant`` is None only between platform accounts; a tenant's transfer may touch
    platform (system) accounts. Recorded in history in the same transaction.
    """
    key_check(idempotency_key)
    amount_check(amount)  # before the audit values are built from it
    if idempotency_key.startswith(RESERVED_KEY_PREFIX):
        raise WalletError(f"keys starting {RESERVED_KEY_PREFIX!r} are reserved", code="invalid_key")
    if Account.Kind.ESCROW in (debit.kind, credit.kind):
        # Escrow holds exactly its open holds' remainders (wallet verify checks it).
        raise WalletError("escrow moves through holds only", code="invalid_account")

    audit = history.record_values(
        action="wallet.transfer_posted",
        actor=actor,
        tenant=tenant,
        target=("transfer", 0),  # replaced by the new transfer's id in the statement
        data={
            "kind": kind,
            "amount": amount,
            "currency": debit.currency,
            "debit": debit.pk,
            "credit": credit.pk,
        },
    )

    def once() -> Transfer:
        return _post(
            tenant=tenant,
            debit=debit,
            credit=credit,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            metadata=metadata,
            hold_id=None,
            audit=audit,
        )

    return atomic_retry(once, name="transfer_post", single_statement=True)


def transfer_post_in_transaction(
    *,
    tenant: Tenant | None,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None = None,
    hold_id: int | None = None,
) -> Transfer:
    """The movement itself, in the caller's transaction, not audited: for the services of
    this app that post transfers as part of a larger operation (holds)."""
    return _post(
        tenant=tenant,
        debit=debit,
        credit=credit,
        amount=amount,
        kind=kind,
        idempotency_key=idempotency_key,
        metadata=metadata,
        hold_id=hold_id,
        audit=None,
    )


def _post(
    *,
    tenant: Tenant | None,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    idempotency_key: str,
    metadata: dict[str, Any] | None,
    hold_id: int | None,
    audit: tuple[Any, ...] | None,
) -> Transfer:
    amount_check(amount)
    if kind not in TRANSFER_KINDS:
        raise WalletError(f"unknown transfer kind {kind!r}", code="invalid_kind")
    accounts_check(tenant=tenant, debit=debit, credit=credit)
    metadata = dict(metadata or {})
    try:
        metadata_json = json.dumps(metadata)
    except (TypeError, ValueError):
        raise WalletError("metadata must be JSON", code="invalid_metadata") from None
    tenant_id = _tenant_id(tenant)
    params = (
        tenant_id,
        debit.pk,
        credit.pk,
        amount,
        debit.currency,
        kind,
        idempotency_key,
        metadata_json,
        hold_id,
    )
    try:
        if audit is None:
            row = fetch_prepared("wallet_transfer_post", _POST, _POST_TYPES, params)
        else:
            row = fetch_prepared(
                "wallet_transfer_post_audited",
                _AUDITED_POST,
                _AUDITED_POST_TYPES,
                params + audit,
            )
        transfer_id, created_at, replayed = row
    except DatabaseError as exc:
        code = SQLSTATE_CODES.get(pgcode(exc) or "")
        if code is None:
            raise
        if code == "insufficient_funds":  # the function's text names account ids
            needed = amount_format(amount, debit.currency)
            raise WalletError(f"not enough funds: {needed} needed", code=code) from exc
        raise WalletError(str(exc.__cause__ or exc).split("\n")[0], code=code) from exc
    row = {
        "id": transfer_id,
        "tenant_id": tenant_id,
        "debit_id": debit.pk,
        "credit_id": credit.pk,
        "amount": amount,
        "currency": debit.currency,
        "kind": kind,
        "idempotency_key": idempotency_key,
        "metadata": metadata,
        "created_at": created_at,
        "hold_id": hold_id,
    }
    # As a queryset would build it (a third of the cost of keyword arguments).
    transfer = Transfer.from_db(
        connection.alias, _TRANSFER_COLUMNS, [row[name] for name in _TRANSFER_COLUMNS]
    )
    transfer.replayed = replayed
    if not replayed:
        logger.debug(  # debug: one line per transfer would cost more than the transfer
            "wallet.transfer_posted",
            extra={"tenant_id": tenant_id, "transfer_id": transfer_id, "kind": kind},
        )
    return transfer
