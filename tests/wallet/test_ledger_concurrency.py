"""The ledger under concurrency, on real PostgreSQL connections: 8 threads x 500 random
transfers over 10 accounts (every pair, both directions), plus keys that several threads
post at once. No thread sees an error (locks in one order; deadlocks and serialization
failures would be retried inside), every balance is what the committed transfers say,
each shared key moved money once, and every ledger invariant holds. And a settle and a
cancel racing for one hold: one wins, once."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from tests.wallet.helpers import (
    assert_consistent,
    balance,
    external,
    group_account,
    user_account,
)
from wallet.errors import WalletError
from wallet.models import Transfer
from wallet.services import hold_cancel, hold_create, hold_settle, transfer_post

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True

THREADS, TRANSFERS, ACCOUNTS, SHARED = 8, 500, 10, 50
SEED = 1_000_000


@pytest.mark.django_db(transaction=True)
def test_concurrent_transfers_keep_every_invariant(tenant):
    accounts = [user_account(tenant, n) for n in range(ACCOUNTS)]
    source = external(tenant)
    for n, account in enumerate(accounts):
        transfer_post(
            tenant=tenant, debit=source, credit=account, amount=SEED, kind="deposit",
            idempotency_key=f"seed-{n}",
        )  # fmt: skip
    moved: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(w: int) -> None:
        rng = random.Random(w)
        mine: list[tuple[int, int, int]] = []
        try:
            start.wait()
            for i in range(TRANSFERS):
                if i % (TRANSFERS // SHARED) == 0:  # every thread posts the same request
                    n = i // (TRANSFERS // SHARED)
                    debit, credit, amount, key = (
                        accounts[n % 10],
                        accounts[(n + 1) % 10],
                        7,
                        f"shared-{n}",
                    )
                else:
                    debit, credit = rng.sample(accounts, 2)
                    amount, key = rng.randint(1, 100), f"w{w}-{i}"
                transfer = transfer_post(
                    tenant=tenant, debit=debit, credit=credit, amount=amount,
                    kind="adjustment", idempotency_key=key,
                )  # fmt: skip
                if not transfer.replayed:
                    mine.append((debit.pk, credit.pk, amount))
        except BaseException as exc:  # reported below: no thread may see any error
            errors.append(exc)
        finally:
            with lock:
                moved.extend(mine)
            connection.close()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    expected = Counter({account.pk: SEED for account in accounts})
    for debit, credit, amount in moved:
        expected[debit] -= amount
        expected[credit] += amount
    assert {account.pk: balance(account) for account in accounts} == dict(expected)
    shared = Transfer.objects.filter(idempotency_key__startswith="shared-")
    assert shared.count() == SHARED  # each posted by 8 threads, moved once
    assert len(moved) == THREADS * (TRANSFERS - SHARED) + SHARED
    assert_consistent()


RACES = 12


@pytest.mark.django_db(transaction=True)
def test_a_settle_and_a_cancel_racing_for_one_hold_close_it_once(tenant):
    """Two callers close the same hold at the same moment, one paying two users, the
    other cancelling: exactly one wins, the other is told the hold is closed, and the
    money moved once (paid out, or back to the group)."""
    group = group_account(tenant)
    payees = [user_account(tenant, n) for n in (1, 2)]
    transfer_post(
        tenant=tenant, debit=external(tenant), credit=group, amount=100 * RACES,
        kind="deposit", idempotency_key="fund",
    )  # fmt: skip
    winners: Counter[str] = Counter()
    for race in range(RACES):
        hold = hold_create(
            tenant=tenant, group_account=group, amount=100, reference=f"raid-{race}",
            idempotency_key=f"hold-{race}",
        )  # fmt: skip
        outcomes: dict[str, str] = {}
        start = threading.Barrier(2)

        def close(how: str, hold=hold, outcomes=outcomes, start=start) -> None:
            try:
                start.wait()
                if how == "settle":
                    hold_settle(
                        hold=hold, payouts=[(payees[0], 30), (payees[1], 20)],
                        idempotency_key=f"settle-{hold.pk}",
                    )  # fmt: skip
                else:
                    hold_cancel(hold=hold, idempotency_key=f"cancel-{hold.pk}")
                outcomes[how] = "closed"
            except WalletError as refused:
                outcomes[how] = refused.code
            finally:
                connection.close()

        threads = [threading.Thread(target=close, args=(how,)) for how in ("settle", "cancel")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["closed", "hold_closed"], outcomes
        winner = next(how for how, outcome in outcomes.items() if outcome == "closed")
        winners[winner] += 1
        hold.refresh_from_db()
        assert hold.status == ("settled" if winner == "settle" else "cancelled")

    paid = winners["settle"]
    assert balance(payees[0]) == 30 * paid and balance(payees[1]) == 20 * paid
    assert balance(group) == 100 * RACES - 50 * paid
    assert_consistent()
