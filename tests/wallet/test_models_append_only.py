"""The ledger's tables against someone with an SQL session: transfers and entries cannot
be changed or removed, accounts and holds cannot be removed, and no ordinary account
can be driven below zero, whatever the statement (migration 0002, the models' checks)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from tests.wallet.helpers import deposit, group_account, user_account
from wallet.models import Account, Entry, Transfer
from wallet.services import hold_create

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


def _sql(sql: str, params: list | None = None) -> None:
    """Run ``sql`` in a savepoint, so a refusal leaves the test's transaction usable."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


@pytest.fixture
def posted(tenant) -> Transfer:
    return deposit(tenant, user_account(tenant, 1), 100)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallet_transfer SET amount = amount + 1 WHERE id = %s",
        "DELETE FROM wallet_transfer WHERE id = %s",
        "UPDATE wallet_entry SET amount = amount WHERE transfer_id = %s",
        "DELETE FROM wallet_entry WHERE transfer_id = %s",
    ],
)
def test_transfers_and_entries_cannot_change(posted, sql):
    with pytest.raises(DatabaseError, match="keeps its rows"):
        _sql(sql, [posted.pk])
    assert Transfer.objects.get(pk=posted.pk).amount == 100
    assert Entry.objects.filter(transfer_id=posted.pk).count() == 2


@pytest.mark.parametrize(
    "table", ["wallet_transfer", "wallet_entry", "wallet_account", "wallet_hold"]
)
def test_truncate_is_refused(posted, table):
    with pytest.raises(DatabaseError, match=f"{table} keeps its rows: TRUNCATE refused"):
        _sql(f"SET CONSTRAINTS ALL IMMEDIATE; TRUNCATE {table} CASCADE")
    assert Transfer.objects.filter(pk=posted.pk).exists()


def test_accounts_and_holds_cannot_be_deleted(tenant):
    group = group_account(tenant)
    deposit(tenant, group, 50)
    hold = hold_create(
        tenant=tenant, group_account=group, amount=20, reference="raid:1", idempotency_key="h"
    )
    with pytest.raises(DatabaseError, match="wallet_account keeps its rows: DELETE refused"):
        _sql("DELETE FROM wallet_account WHERE id = %s", [group.pk])
    with pytest.raises(DatabaseError, match="wallet_hold keeps its rows: DELETE refused"):
        _sql("DELETE FROM wallet_hold WHERE id = %s", [hold.pk])


def test_the_database_refuses_a_negative_balance_on_an_ordinary_account(posted):
    account = Account.objects.get(pk=Entry.objects.get(transfer=posted, amount=100).account_id)
    with pytest.raises(IntegrityError, match="wallet_account_nonnegative"):
        _sql("UPDATE wallet_account SET balance = -1 WHERE id = %s", [account.pk])


@pytest.mark.parametrize(
    ("values", "constraint"),
    [((0,), "wallet_transfer_amount"), ((-5,), "wallet_transfer_amount")],
)
def test_the_database_refuses_a_transfer_of_nothing(tenant, values, constraint):
    a, b = user_account(tenant, 1), user_account(tenant, 2)
    with pytest.raises(IntegrityError, match=constraint):
        _sql(
            "INSERT INTO wallet_transfer (tenant_id, debit_id, credit_id, amount, currency, kind,"
            " idempotency_key, metadata, created_at) VALUES (%s, %s, %s, %s, 'USDT',"
            " 'adjustment', 'x', '{}', now())",
            [tenant.pk, a.pk, b.pk, values[0]],
        )
