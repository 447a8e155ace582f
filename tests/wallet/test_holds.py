"""Holds: escrow taken from a group, settled with many payouts or cancelled, each once."""

from __future__ import annotations

import time

import pytest

from history.models import Entry as HistoryEntry
from tests.wallet.helpers import assert_consistent, balance, deposit, group_account, user_account
from wallet.errors import WalletError
from wallet.models import Account, Hold, Transfer
from wallet.services import accounts_get_or_create, hold_cancel, hold_create, hold_settle

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


@pytest.fixture
def group(tenant) -> Account:
    account = group_account(tenant)
    deposit(tenant, account, 1_000)
    return account


def _escrow(hold: Hold) -> int:
    return balance(Account.objects.get(pk=hold.escrow_id))


def test_a_hold_moves_money_into_escrow_once(tenant, group):
    hold = hold_create(
        tenant=tenant, group_account=group, amount=300, reference="raid:42", idempotency_key="h1"
    )
    again = hold_create(
        tenant=tenant, group_account=group, amount=300, reference="raid:42", idempotency_key="h1"
    )
    assert again.pk == hold.pk
    assert (balance(group), _escrow(hold)) == (700, 300)
    assert (hold.status, hold.remaining, hold.currency) == ("open", 300, "USDT")
    assert HistoryEntry.objects.filter(action="wallet.hold_created").count() == 1
    with pytest.raises(WalletError) as refused:
        hold_create(
            tenant=tenant, group_account=group, amount=301, reference="raid:42",
            idempotency_key="h1",
        )  # fmt: skip
    assert refused.value.code == "idempotency_conflict"
    assert_consistent()


def test_a_hold_beyond_the_groups_balance_is_refused_and_leaves_nothing(tenant, group):
    with pytest.raises(WalletError) as refused:
        hold_create(
            tenant=tenant, group_account=group, amount=1_001, reference="r", idempotency_key="h"
        )
    assert refused.value.code == "insufficient_funds"
    assert not Hold.objects.exists()
    assert balance(group) == 1_000


def test_settle_pays_everyone_and_releases_the_rest_once(tenant, group):
    hold = hold_create(
        tenant=tenant, group_account=group, amount=500, reference="raid:1", idempotency_key="h"
    )
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    payouts = [(alice, 100), (bob, 150), (alice, 50)]

    result = hold_settle(hold=hold, payouts=payouts, idempotency_key="settle-1")
    assert (result.payouts, result.paid, result.released, result.replayed) == (3, 300, 200, False)
    assert (balance(alice), balance(bob), balance(group), _escrow(hold)) == (150, 150, 700, 0)
    stored = Hold.objects.get(pk=hold.pk)
    assert (stored.status, stored.remaining) == ("settled", 0)
    assert stored.closed_at is not None
    assert Transfer.objects.filter(hold=hold, kind="payout").count() == 3
    assert Transfer.objects.get(hold=hold, kind="release").amount == 200

    replay = hold_settle(hold=hold, payouts=payouts, idempotency_key="settle-1")
    assert (replay.payouts, replay.paid, replay.released, replay.replayed) == (3, 300, 200, True)
    assert (balance(alice), balance(bob), balance(group)) == (150, 150, 700)
    assert HistoryEntry.objects.filter(action="wallet.hold_settled").count() == 1
    assert_consistent()


def test_a_closed_hold_refuses_another_settlement_or_a_cancel(tenant, group):
    hold = hold_create(
        tenant=tenant, group_account=group, amount=500, reference="r", idempotency_key="h"
    )
    alice = user_account(tenant, 1)
    hold_settle(hold=hold, payouts=[(alice, 10)], idempotency_key="s1")
    for attempt in (lambda: hold_settle(hold=hold, payouts=[(alice, 11)], idempotency_key="s1"),):
        with pytest.raises(WalletError) as refused:
            attempt()
        assert refused.value.code == "idempotency_conflict"
    for attempt in (
        lambda: hold_settle(hold=hold, payouts=[(alice, 10)], idempotency_key="s2"),
        lambda: hold_cancel(hold=hold, idempotency_key="c1"),
    ):
        with pytest.raises(WalletError) as refused:
            attempt()
        assert refused.value.code == "hold_closed"
    assert balance(alice) == 10
    assert_consistent()


def test_settling_more_than_held_is_refused_and_moves_nothing(tenant, group):
    hold = hold_create(
        tenant=tenant, group_account=group, amount=100, reference="r", idempotency_key="h"
    )
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    with pytest.raises(WalletError) as refused:
        hold_settle(hold=hold, payouts=[(alice, 60), (bob, 41)], idempotency_key="s")
    assert refused.value.code == "exceeds_hold"
    assert (balance(alice), balance(bob), _escrow(hold)) == (0, 0, 100)
    assert Hold.objects.get(pk=hold.pk).status == "open"
    # The key was not used up.
    assert hold_settle(hold=hold, payouts=[(alice, 60)], idempotency_key="s").paid == 60


def test_a_payee_of_another_tenant_or_currency_is_refused(make_tenant):
    a, b = make_tenant(), make_tenant()
    group = group_account(a)
    deposit(a, group, 100)
    hold = hold_create(
        tenant=a, group_account=group, amount=100, reference="r", idempotency_key="h"
    )
    for payee, code in (
        (user_account(b, 1), "account_not_in_tenant"),
        (user_account(a, 1, currency="TON"), "currency_mismatch"),
    ):
        with pytest.raises(WalletError) as refused:
            hold_settle(hold=hold, payouts=[(payee, 1)], idempotency_key="s")
        assert refused.value.code == code
    assert _escrow(hold) == 100


def test_cancel_gives_everything_back_once(tenant, group):
    hold = hold_create(
        tenant=tenant, group_account=group, amount=400, reference="r", idempotency_key="h"
    )
    cancelled = hold_cancel(hold=hold, idempotency_key="c")
    assert (cancelled.status, cancelled.remaining) == ("cancelled", 0)
    assert (balance(group), _escrow(hold)) == (1_000, 0)
    assert hold_cancel(hold=hold, idempotency_key="c").pk == hold.pk
    assert balance(group) == 1_000
    assert Transfer.objects.filter(hold=hold, kind="release").count() == 1
    with pytest.raises(WalletError) as refused:
        hold_settle(hold=hold, payouts=[], idempotency_key="c")
    assert refused.value.code == "idempotency_conflict"
    assert_consistent()


def test_ten_thousand_payouts_settle_in_one_operation_at_speed(tenant):
    group = group_account(tenant)
    deposit(tenant, group, 10_000_000)
    hold = hold_create(
        tenant=tenant, group_account=group, amount=10_000_000, reference="raid:big",
        idempotency_key="h",
    )  # fmt: skip
    payees = accounts_get_or_create(
        tenant=tenant, owner_kind="user", owner_ids=list(range(1, 10_001)), currency="USDT",
        kind="available",
    )  # fmt: skip
    payouts = [(payees[n], 900) for n in range(1, 10_001)]

    started = time.perf_counter()
    result = hold_settle(hold=hold, payouts=payouts, idempotency_key="s")
    elapsed = time.perf_counter() - started

    assert (result.payouts, result.paid, result.released) == (10_000, 9_000_000, 1_000_000)
    assert balance(payees[10_000]) == 900
    assert balance(group) == 1_000_000
    # The goal is 2,000 payouts/s; the bound leaves room for a busy test machine.
    assert elapsed < 10, f"{10_000 / elapsed:.0f} payouts/s"
    print(f"10,000 payouts settled in {elapsed:.2f} s ({10_000 / elapsed:.0f}/s)")
    assert_consistent()
