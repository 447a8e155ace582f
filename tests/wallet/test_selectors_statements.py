"""The statement selectors the read API uses: the whole statement a page at a time with
nothing posted meanwhile, account labels, reads that create nothing."""

from __future__ import annotations

from tests.wallet.helpers import deposit, group_account, ledger_counts, user_account
from wallet.selectors import (
    MAX_PAGE,
    account_find,
    account_labels,
    statement_entries,
    statement_iter,
)

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True


def test_statement_iter_yields_every_line_once_and_not_what_is_posted_meanwhile(tenant):
    account = user_account(tenant, 1, "XTR")
    for n in range(2 * MAX_PAGE):  # exactly two full pages: the last page must end the walk
        deposit(tenant, account, n + 1)

    pages = []
    for lines in statement_iter(account=account):
        pages.append([line.amount for line in lines])
        deposit(tenant, account, 10_000)  # arrives while the export runs

    assert [len(page) for page in pages] == [MAX_PAGE, MAX_PAGE]
    assert [amount for page in pages for amount in page] == list(range(2 * MAX_PAGE, 0, -1))


def test_statement_iter_applies_the_filters_and_an_empty_one_yields_nothing(tenant):
    account = user_account(tenant, 1, "XTR")
    deposit(tenant, account, 5)
    assert list(statement_iter(account=account, kinds=["payout"])) == []
    assert [[line.amount for line in page] for page in statement_iter(account=account)] == [[5]]


def test_accounts_are_labelled_and_found_without_being_created(tenant):
    group = group_account(tenant, -100777, "USDT")
    transfer = deposit(tenant, group, 3)
    labels = account_labels(account_ids=[transfer.debit_id, transfer.credit_id])
    assert labels == {
        transfer.debit_id: f"tenant:{tenant.pk}:external",
        transfer.credit_id: "group:-100777:available",
    }
    before = ledger_counts()
    found = account_find(
        tenant=tenant, owner_kind="group", owner_id=-100777, currency="USDT", kind="available"
    )
    assert found == group
    missing = dict(tenant=tenant, owner_kind="group", owner_id=-100777, currency="TON")
    assert account_find(**missing, kind="available") is None
    assert ledger_counts() == before
    assert statement_entries(account=group, kinds=["deposit"]).count() == 1
