"""transfer_post under concurrency, on real PostgreSQL connections: 8 threads x 500
random transfers over 10 accounts (every pair, both directions), plus keys that several
threads post at once. No thread sees an error (locks in one order; deadlocks and
serialization failures would be retried inside), every balance is what the committed
transfers say, each shared key moved money once, and every ledger invariant holds."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from django.db import connection

from tests.wallet.helpers import assert_consistent, balance, external, user_account
from wallet.models import Transfer
from wallet.services import transfer_post

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
