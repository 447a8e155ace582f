"""transfer_post and accounts: idempotency, refusals, double entry, the audit record."""

from __future__ import annotations

import pytest
from django.db import connection

from history.models import Entry as HistoryEntry
from tests.wallet.helpers import (
    assert_consistent,
    balance,
    deposit,
    external,
    group_account,
    key,
    user_account,
)
from wallet.errors import WalletError
from wallet.models import Account, Entry, Transfer
from wallet.services import account_get_or_create, accounts_get_or_create, transfer_post

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


def refusal(
    tenant, debit: Account, credit: Account, amount: int = 1, idempotency_key: str | None = None
) -> str:
    """The code an adjustment of ``amount`` from ``debit`` to ``credit`` is refused with."""
    with pytest.raises(WalletError) as refused:
        transfer_post(
            tenant=tenant,
            debit=debit,
            credit=credit,
            amount=amount,
            kind="adjustment",
            idempotency_key=idempotency_key or key(),
        )
    return refused.value.code


def test_a_deposit_moves_money_and_writes_two_entries_and_an_audit_record(tenant):
    alice = user_account(tenant, 1)
    transfer = deposit(tenant, alice, 1_500_000)

    assert balance(alice) == 1_500_000
    assert balance(external(tenant)) == -1_500_000
    entries = list(Entry.objects.filter(transfer_id=transfer.pk).order_by("amount"))
    assert [(e.account_id, e.amount, e.balance_before, e.balance_after, e.account_version)
            for e in entries] == [
        (external(tenant).pk, -1_500_000, 0, -1_500_000, 1),
        (alice.pk, 1_500_000, 0, 1_500_000, 1),
    ]  # fmt: skip
    audit = HistoryEntry.objects.get(action="wallet.transfer_posted", target_id=str(transfer.pk))
    assert audit.tenant_id == tenant.pk
    assert audit.data["amount"] == 1_500_000
    assert_consistent()


def test_the_same_key_and_request_returns_the_first_transfer_and_moves_nothing(tenant):
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    deposit(tenant, alice, 100)
    request = dict(tenant=tenant, debit=alice, credit=bob, amount=30, kind="adjustment")
    first = transfer_post(**request, idempotency_key="pay-1", metadata={"note": "x"})
    again = transfer_post(**request, idempotency_key="pay-1", metadata={"note": "x"})

    assert (first.replayed, again.replayed) == (False, True)
    assert again.pk == first.pk and again.created_at == first.created_at
    assert (balance(alice), balance(bob)) == (70, 30)
    assert Transfer.objects.filter(idempotency_key="pay-1").count() == 1
    assert HistoryEntry.objects.filter(target_type="transfer", target_id=str(first.pk)).count() == 1
    assert_consistent()


@pytest.mark.parametrize(
    "change", [{"amount": 31}, {"kind": "fee"}, {"metadata": {"note": "y"}}, {"swap": True}]
)
def test_the_same_key_with_another_request_is_a_conflict(tenant, change):
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    deposit(tenant, alice, 100)
    deposit(tenant, bob, 100)
    request = dict(tenant=tenant, debit=alice, credit=bob, amount=30, kind="adjustment")
    transfer_post(**request, idempotency_key="pay-1", metadata={"note": "x"})
    changed = {**request, "metadata": {"note": "x"}, **change}
    if changed.pop("swap", False):
        changed["debit"], changed["credit"] = bob, alice

    with pytest.raises(WalletError) as refused:
        transfer_post(**changed, idempotency_key="pay-1")
    assert refused.value.code == "idempotency_conflict"
    assert refused.value.status == 409
    assert (balance(alice), balance(bob)) == (70, 130)


def _account_rows_fetched_by_index() -> int:
    """Rows of wallet_account this transaction fetched through an index (PostgreSQL's own
    count; bitmap scans included)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
            " WHERE relid = 'public.wallet_account'::regclass"
        )
        return cursor.fetchone()[0]


def test_a_transfer_reaches_its_accounts_by_primary_key_however_many_the_tenant_has(tenant):
    """Not through the owner index, which would read every account of the tenant in the
    currency. (A sequential scan stays the planner's choice while it believes the table
    tiny, from statistics taken when it was: it fetches through no index.)"""
    owners = accounts_get_or_create(
        tenant=tenant, owner_kind="user", owner_ids=list(range(1, 301)), currency="USDT",
        kind="available",
    )  # fmt: skip
    alice, bob = owners[1], owners[2]
    deposit(tenant, alice, 100)
    # Past PL/pgSQL's first five custom plans: the cached generic plan is what runs after.
    for _ in range(8):
        before = _account_rows_fetched_by_index()
        transfer_post(
            tenant=tenant, debit=alice, credit=bob, amount=1, kind="adjustment",
            idempotency_key=key(),
        )  # fmt: skip
        assert _account_rows_fetched_by_index() - before <= 2
    assert (balance(alice), balance(bob)) == (92, 8)


def test_keys_are_per_tenant(make_tenant):
    a, b = make_tenant(), make_tenant()
    deposit(a, user_account(a, 1), 5)
    transfer_post(
        tenant=a, debit=external(a), credit=user_account(a, 1), amount=5, kind="deposit",
        idempotency_key="same",
    )  # fmt: skip
    moved = transfer_post(
        tenant=b, debit=external(b), credit=user_account(b, 1), amount=7, kind="deposit",
        idempotency_key="same",
    )  # fmt: skip
    assert not moved.replayed
    assert balance(user_account(b, 1)) == 7


def test_insufficient_funds_is_refused_before_anything_moves(tenant):
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    deposit(tenant, alice, 10)
    refused = refusal(tenant, alice, bob, amount=11, idempotency_key="too-much")
    assert refused == "insufficient_funds"
    assert (balance(alice), balance(bob)) == (10, 0)
    assert not Transfer.objects.filter(idempotency_key="too-much").exists()
    # The key was not used up: the same request succeeds once the money is there.
    deposit(tenant, alice, 1)
    transfer_post(
        tenant=tenant, debit=alice, credit=bob, amount=11, kind="adjustment",
        idempotency_key="too-much",
    )  # fmt: skip
    assert (balance(alice), balance(bob)) == (0, 11)


def test_a_stale_instance_cannot_overdraw(tenant):
    """The instance says 100; the row says 0: the database function decides."""
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    stale = Account.objects.get(pk=alice.pk)
    stale.balance = 100
    assert refusal(tenant, stale, bob) == "insufficient_funds"


def test_system_accounts_may_go_negative_and_the_rest_may_not(tenant):
    assert external(tenant).is_system
    assert account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency="TON", kind="fees"
    ).is_system
    assert account_get_or_create(
        tenant=None, owner_kind="platform", owner_id=0, currency="TON", kind="available"
    ).is_system
    assert not user_account(tenant, 1).is_system
    assert not group_account(tenant).is_system


def test_currencies_must_match(tenant):
    usdt, ton = user_account(tenant, 1, "USDT"), user_account(tenant, 2, "TON")
    deposit(tenant, usdt, 10)
    assert refusal(tenant, usdt, ton) == "currency_mismatch"


def test_a_forged_instance_with_another_currency_is_refused_by_the_database(tenant):
    usdt, ton = user_account(tenant, 1, "USDT"), user_account(tenant, 2, "TON")
    deposit(tenant, usdt, 10)
    forged = Account.objects.get(pk=ton.pk)
    forged.currency = "USDT"
    assert refusal(tenant, usdt, forged) == "currency_mismatch"
    assert balance(usdt) == 10


def test_another_tenants_account_is_refused(make_tenant):
    a, b = make_tenant(), make_tenant()
    mine, theirs = user_account(a, 1), user_account(b, 1)
    deposit(a, mine, 10)
    deposit(b, theirs, 10)
    for debit, credit in ((mine, theirs), (theirs, mine)):
        assert refusal(a, debit, credit) == "account_not_in_tenant"
    forged = Account.objects.get(pk=theirs.pk)
    forged.tenant_id = a.pk  # the instance lies; the row does not
    assert refusal(a, forged, mine) == "account_not_in_tenant"
    assert (balance(mine), balance(theirs)) == (10, 10)


def test_a_tenant_may_pay_a_platform_fee(tenant):
    platform_fees = account_get_or_create(
        tenant=None, owner_kind="platform", owner_id=0, currency="USDT", kind="fees"
    )
    alice = user_account(tenant, 1)
    deposit(tenant, alice, 10)
    transfer_post(
        tenant=tenant, debit=alice, credit=platform_fees, amount=2, kind="fee",
        idempotency_key=key(),
    )  # fmt: skip
    assert balance(platform_fees) == 2
    assert_consistent()


def test_platform_level_keys_are_unique_too(db):
    """NULL tenants: the key constraint treats them as equal (NULLS NOT DISTINCT)."""
    source = account_get_or_create(
        tenant=None, owner_kind="platform", owner_id=0, currency="XTR", kind="external"
    )
    fees = account_get_or_create(
        tenant=None, owner_kind="platform", owner_id=0, currency="XTR", kind="fees"
    )
    request = dict(tenant=None, debit=source, credit=fees, amount=5, kind="adjustment")
    first = transfer_post(**request, idempotency_key="platform-1")
    assert transfer_post(**request, idempotency_key="platform-1").pk == first.pk
    assert balance(fees) == 5


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -5}, "invalid_amount"),
        ({"amount": 1.5}, "invalid_amount"),
        ({"amount": True}, "invalid_amount"),
        ({"amount": 2**63}, "invalid_amount"),
        ({"kind": "gift"}, "invalid_kind"),
        ({"idempotency_key": ""}, "invalid_key"),
        ({"idempotency_key": "x" * 201}, "invalid_key"),
        ({"idempotency_key": "hold:1:open"}, "invalid_key"),
        ({"credit": "debit"}, "same_account"),
        ({"credit": "escrow"}, "invalid_account"),
    ],
)
def test_malformed_requests_are_refused(tenant, change, code):
    alice, bob = user_account(tenant, 1), user_account(tenant, 2)
    deposit(tenant, alice, 10)
    escrow = account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=-1, currency="USDT", kind="escrow"
    )
    request = dict(
        tenant=tenant, debit=alice, credit=bob, amount=1, kind="adjustment", idempotency_key=key()
    )
    request.update(change)
    request["credit"] = {"debit": alice, "escrow": escrow}.get(request["credit"], request["credit"])
    with pytest.raises(WalletError) as refused:
        transfer_post(**request)
    assert refused.value.code == code
    assert balance(alice) == 10


def test_accounts_are_created_once(tenant):
    first = user_account(tenant, 7)
    assert user_account(tenant, 7).pk == first.pk
    many = accounts_get_or_create(
        tenant=tenant, owner_kind="user", owner_ids=[7, 8, 9, 8], currency="USDT",
        kind="available",
    )  # fmt: skip
    assert sorted(many) == [7, 8, 9]
    assert many[7].pk == first.pk
    with pytest.raises(WalletError) as refused:
        user_account(tenant, 1, currency="DOGE")
    assert refused.value.code == "unknown_currency"
    with pytest.raises(WalletError):
        account_get_or_create(
            tenant=None, owner_kind="user", owner_id=1, currency="USDT", kind="available"
        )


def test_transfers_work_without_prepared_statements(tenant, settings):
    """DB_PREPARED_STATEMENTS=0 (behind a transaction-mode pooler): plain statements."""
    settings.DB_PREPARED_STATEMENTS = False
    alice = user_account(tenant, 1)
    first = deposit(tenant, alice, 5)
    again = transfer_post(
        tenant=tenant, debit=external(tenant), credit=alice, amount=5, kind="deposit",
        idempotency_key=first.idempotency_key,
    )  # fmt: skip
    assert again.replayed and again.pk == first.pk
    assert balance(alice) == 5
    assert HistoryEntry.objects.filter(target_type="transfer", target_id=str(first.pk)).exists()
    assert_consistent()


def _buffers_of_replay(tenant, debit, credit, key: str) -> int:
    """Pages the database function touches to answer a replay of ``key`` (EXPLAIN counts
    the buffers a function uses against the call)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM wallet_transfer_post("
            "%s, %s, %s, 3, 'TON', 'deposit', %s, '{}', NULL)",
            [tenant.pk if tenant else None, debit.pk, credit.pk, key],
        )
        plan = cursor.fetchone()[0][0]["Plan"]
        return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"]


@pytest.mark.parametrize("platform", [False, True])
def test_a_replay_finds_its_transfer_through_the_key_index(tenant, platform):
    """A replay reads its one transfer, not the table or the whole index (it once did:
    24 ms at 100,000 transfers)."""
    if platform:
        tenant = None
        debit, credit = (
            account_get_or_create(
                tenant=None, owner_kind="platform", owner_id=0, currency="TON", kind=kind
            )
            for kind in ("external", "fees")
        )
    else:
        debit = account_get_or_create(
            tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency="TON", kind="external"
        )
        credit = user_account(tenant, 1, currency="TON")
    with connection.cursor() as cursor:  # 20,000 rows of history to search through
        cursor.execute(
            "INSERT INTO wallet_transfer (tenant_id, debit_id, credit_id, amount, currency, kind,"
            " idempotency_key, metadata, created_at) SELECT %s, %s, %s, 3, 'TON', 'deposit',"
            " 'k-' || n, '{}', now() FROM generate_series(1, 20000) AS n",
            [tenant.pk if tenant else None, debit.pk, credit.pk],
        )
        cursor.execute("ANALYZE wallet_transfer")
    _buffers_of_replay(tenant, debit, credit, "k-8")  # plans and caches the function
    assert _buffers_of_replay(tenant, debit, credit, "k-7") < 20
