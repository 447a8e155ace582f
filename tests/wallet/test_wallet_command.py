"""manage.py wallet verify: exit 0 on a consistent ledger; exit 1 naming the first
discrepancy when rows were changed behind the services' back (the append-only triggers
are skipped here as only a superuser can: session_replication_role)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tests.wallet.helpers import deposit, group_account, user_account
from wallet.services import hold_create, transfer_post

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


def _corrupt(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET LOCAL session_replication_role = origin")


@pytest.fixture
def ledger(tenant):
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    deposit(tenant, alice, 100)
    deposit(tenant, bob, 50)
    group = group_account(tenant)
    deposit(tenant, group, 70)
    hold_create(tenant=tenant, group_account=group, amount=30, reference="r", idempotency_key="h")
    return alice, bob


def test_a_consistent_ledger_passes(ledger):
    out = io.StringIO()
    call_command("wallet", "verify", stdout=out)
    assert "wallet verify: OK (5 accounts, 4 transfers, 8 entries)" in out.getvalue()


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE wallet_account SET balance = balance + 1 WHERE id = %(alice)s", "balance"),
        ("UPDATE wallet_entry SET amount = amount + 1, balance_after = balance_after + 1"
         " WHERE account_id = %(alice)s", "two balancing entries"),
        ("UPDATE wallet_entry SET account_version = 7 WHERE account_id = %(alice)s",
         "broken entry chain"),
        ("UPDATE wallet_transfer SET debit_id = 999999 WHERE credit_id = %(alice)s",
         "does not exist"),
        ("UPDATE wallet_hold SET remaining = 20", "open holds"),
    ],
)  # fmt: skip
def test_a_corrupted_ledger_fails_naming_the_first_discrepancy(ledger, sql, problem):
    alice, _ = ledger
    _corrupt(sql, {"alice": alice.pk})
    with pytest.raises(CommandError) as failed:
        call_command("wallet", "verify")
    assert failed.value.returncode == 1
    assert problem in str(failed.value)


def test_a_broken_chain_is_found_even_when_the_sums_agree(ledger):
    """Two entries of one account swap their before/after: sums and counts still match."""
    alice, bob = ledger
    transfer_post(
        tenant=alice.tenant, debit=alice, credit=bob, amount=10, kind="adjustment",
        idempotency_key="x",
    )  # fmt: skip
    _corrupt(
        "UPDATE wallet_entry SET balance_before = balance_before + 5, balance_after ="
        " balance_after + 5 WHERE account_id = %(alice)s AND account_version = 1",
        {"alice": alice.pk},
    )
    with pytest.raises(CommandError, match="broken entry chain"):
        call_command("wallet", "verify")
