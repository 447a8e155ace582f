"""Plain functions the wallet tests share: accounts of a tenant, funding, invariants."""

from __future__ import annotations

import itertools

from tenancy.services import chat_bind
from wallet.models import Account, Entry, Transfer
from wallet.selectors import ledger_check
from wallet.services import account_get_or_create, transfer_post

_keys = itertools.count(1)


def key(prefix: str = "k") -> str:
    return f"{prefix}-{next(_keys)}"


def external(tenant, currency: str = "USDT") -> Account:
    """Where a tenant's deposits come from and withdrawals go (a system account)."""
    return account_get_or_create(
        tenant=tenant, owner_kind="tenant", owner_id=tenant.pk, currency=currency, kind="external"
    )


def user_account(tenant, user_id: int, currency: str = "USDT") -> Account:
    return account_get_or_create(
        tenant=tenant, owner_kind="user", owner_id=user_id, currency=currency, kind="available"
    )


def group_account(tenant, chat_id: int = -100123, currency: str = "USDT") -> Account:
    return account_get_or_create(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=currency, kind="available"
    )


def deposit(tenant, account: Account, amount: int) -> Transfer:
    return transfer_post(
        tenant=tenant,
        debit=external(tenant, account.currency),
        credit=account,
        amount=amount,
        kind="deposit",
        idempotency_key=key("deposit"),
    )


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).balance


def assert_consistent() -> None:
    """Every invariant ``wallet verify`` checks holds."""
    check = ledger_check()
    assert check.problem is None, check.problem


# --- the read API (tests of wallet.views) -------------------------------------------


def bound_group(tenant, chat_id: int = -100123, title: str = "Funds group") -> int:
    """A group bound to the tenant: what the API's group endpoints address."""
    chat_bind(tenant=tenant, chat_id=chat_id, title=title)
    return chat_id


def move(tenant, debit: Account, credit: Account, amount: int, kind: str, **metadata) -> Transfer:
    return transfer_post(
        tenant=tenant,
        debit=debit,
        credit=credit,
        amount=amount,
        kind=kind,
        idempotency_key=key(kind),
        metadata=metadata,
    )


def ledger_counts() -> tuple[int, int, int]:
    """Accounts, transfers and entries: a read must leave all three alone."""
    return Account.objects.count(), Transfer.objects.count(), Entry.objects.count()
