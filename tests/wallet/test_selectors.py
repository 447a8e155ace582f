"""Reads: balances per currency, statements with filters and keyset pages, by key."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from tests.wallet.helpers import deposit, external, key, user_account
from wallet.selectors import account_statement, balances, transfer_by_key
from wallet.services import transfer_post

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


def test_balances_per_currency_and_kind(tenant):
    deposit(tenant, user_account(tenant, 1, "USDT"), 5)
    deposit(tenant, user_account(tenant, 1, "TON"), 7)
    deposit(tenant, user_account(tenant, 2, "TON"), 9)
    assert balances(tenant=tenant, owner_kind="user", owner_id=1) == {
        "USDT": {"available": 5},
        "TON": {"available": 7},
    }
    assert balances(tenant=tenant, owner_kind="user", owner_id=3) == {}


def test_transfer_by_key(tenant):
    posted = deposit(tenant, user_account(tenant, 1), 5)
    assert transfer_by_key(tenant=tenant, idempotency_key=posted.idempotency_key).pk == posted.pk
    assert transfer_by_key(tenant=tenant, idempotency_key="nope") is None


def test_a_statement_pages_newest_first_without_gaps_or_repeats(tenant):
    alice = user_account(tenant, 1)
    for amount in range(1, 8):
        deposit(tenant, alice, amount)
    seen, cursor = [], None
    while True:
        page = account_statement(account=alice, before=cursor, limit=3)
        seen += [line.amount for line in page.lines]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [7, 6, 5, 4, 3, 2, 1]
    top = account_statement(account=alice, limit=1).lines[0]
    assert (top.balance_after, top.kind, top.counterparty_id) == (
        28,
        "deposit",
        external(tenant).pk,
    )


def test_a_statement_filters_by_kind_counterparty_and_dates(tenant):
    alice, bob, carol = user_account(tenant, 1), user_account(tenant, 2), user_account(tenant, 3)
    deposit(tenant, alice, 100)
    for credit, amount in ((bob, 10), (carol, 20), (bob, 30)):
        transfer_post(
            tenant=tenant, debit=alice, credit=credit, amount=amount, kind="adjustment",
            idempotency_key=key(),
        )  # fmt: skip
    to_bob = account_statement(account=alice, counterparty=bob)
    assert [line.amount for line in to_bob.lines] == [-30, -10]
    deposits = account_statement(account=alice, kinds=["deposit"])
    assert [line.amount for line in deposits.lines] == [100]
    now = timezone.now()
    assert account_statement(account=alice, since=now + timedelta(seconds=1)).lines == []
    assert len(account_statement(account=alice, until=now + timedelta(seconds=1)).lines) == 4
