"""The ledger as a state machine (Hypothesis): random deposits, transfers, withdrawals,
refunds, holds, settlements and cancels, with replays of earlier requests under their
keys. After every step: each currency sums to zero, no ordinary account is negative,
every stored balance equals the sum of its entries (and the model's), and a replay moved
nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.wallet.helpers import assert_consistent, external, group_account, user_account
from wallet.errors import WalletError
from wallet.models import Account
from wallet.services import hold_cancel, hold_create, hold_settle, transfer_post

# Tenants without schemas (tests/wallet/conftest.py): the ledger needs only their rows.
LEDGER_ONLY = True

USERS = 3
amounts = st.integers(min_value=1, max_value=500)


class Ledger(RuleBasedStateMachine):
    tenant: Any = None  # set by the test (a fixture's tenant)

    def __init__(self) -> None:
        super().__init__()
        # Each example in a savepoint, rolled back in teardown: a fresh ledger each time.
        self._example = transaction.atomic()
        self._example.__enter__()
        tenant = self.tenant
        self.external = external(tenant)
        self.users = [user_account(tenant, n) for n in range(USERS)]
        self.group = group_account(tenant)
        self.expected: dict[int, int] = {}
        self.holds: list[dict[str, Any]] = []  # hold, remaining, open
        self.done: list[tuple[str, dict[str, Any], Any]] = []  # replayable successes
        self.keys = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._example.__exit__(None, None, None)

    def _key(self) -> str:
        self.keys += 1
        return f"req-{self.keys}"

    def _move(self, debit: Account, credit: Account, amount: int) -> None:
        self.expected[debit.pk] = self.expected.get(debit.pk, 0) - amount
        self.expected[credit.pk] = self.expected.get(credit.pk, 0) + amount

    def _escrow_pk(self) -> int | None:
        return self.holds[0]["hold"].escrow_id if self.holds else None

    def _transfer(self, debit: Account, credit: Account, amount: int, kind: str) -> None:
        request = dict(
            tenant=self.tenant, debit=debit, credit=credit, amount=amount, kind=kind,
            idempotency_key=self._key(),
        )  # fmt: skip
        affordable = debit.is_system or self.expected.get(debit.pk, 0) >= amount
        try:
            transfer = transfer_post(**request)
        except WalletError as refused:
            assert not affordable and refused.code == "insufficient_funds"
            return
        assert affordable
        self._move(debit, credit, amount)
        self.done.append(("transfer", request, transfer.pk))

    @rule(user=st.integers(0, USERS - 1), amount=amounts)
    def deposit(self, user: int, amount: int) -> None:
        self._transfer(self.external, self.users[user], amount, "deposit")

    @rule(amount=amounts)
    def deposit_to_group(self, amount: int) -> None:
        self._transfer(self.external, self.group, amount, "deposit")

    @rule(a=st.integers(0, USERS - 1), b=st.integers(0, USERS - 1), amount=amounts)
    def pay(self, a: int, b: int, amount: int) -> None:
        if a != b:
            self._transfer(self.users[a], self.users[b], amount, "adjustment")

    @rule(
        user=st.integers(0, USERS - 1),
        amount=amounts,
        kind=st.sampled_from(["withdrawal", "refund"]),
    )
    def withdraw(self, user: int, amount: int, kind: str) -> None:
        self._transfer(self.users[user], self.external, amount, kind)

    @rule(amount=amounts)
    def hold(self, amount: int) -> None:
        request = dict(
            tenant=self.tenant, group_account=self.group, amount=amount, reference="raid",
            idempotency_key=self._key(),
        )  # fmt: skip
        affordable = self.expected.get(self.group.pk, 0) >= amount
        try:
            hold = hold_create(**request)
        except WalletError as refused:
            assert not affordable and refused.code == "insufficient_funds"
            return
        assert affordable
        self.expected[self.group.pk] -= amount
        self.expected[hold.escrow_id] = self.expected.get(hold.escrow_id, 0) + amount
        self.holds.append({"hold": hold, "remaining": amount, "open": True})
        self.done.append(("hold", request, hold.pk))

    @precondition(lambda self: any(h["open"] for h in self.holds))
    @rule(
        data=st.data(),
        payouts=st.lists(st.tuples(st.integers(0, USERS - 1), amounts), max_size=4),
    )
    def settle(self, data: st.DataObject, payouts: list[tuple[int, int]]) -> None:
        entry = data.draw(st.sampled_from([h for h in self.holds if h["open"]]))
        request = dict(
            hold=entry["hold"],
            payouts=[(self.users[u], amount) for u, amount in payouts],
            idempotency_key=self._key(),
        )
        paid = sum(amount for _, amount in payouts)
        try:
            result = hold_settle(**request)
        except WalletError as refused:
            assert paid > entry["remaining"] and refused.code == "exceeds_hold"
            return
        assert paid <= entry["remaining"] and not result.replayed
        escrow = entry["hold"].escrow_id
        for user, amount in payouts:
            self.expected[escrow] -= amount
            self.expected[self.users[user].pk] = self.expected.get(self.users[user].pk, 0) + amount
        self.expected[escrow] -= entry["remaining"] - paid
        self.expected[self.group.pk] += entry["remaining"] - paid
        entry.update(open=False, remaining=0)
        self.done.append(("settle", request, (result.paid, result.released)))

    @precondition(lambda self: any(h["open"] for h in self.holds))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        entry = data.draw(st.sampled_from([h for h in self.holds if h["open"]]))
        request = dict(hold=entry["hold"], idempotency_key=self._key())
        hold_cancel(**request)
        self.expected[entry["hold"].escrow_id] -= entry["remaining"]
        self.expected[self.group.pk] += entry["remaining"]
        entry.update(open=False, remaining=0)
        self.done.append(("cancel", request, entry["hold"].pk))

    @precondition(lambda self: bool(self.done))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        """An earlier request again, with its key: the same answer, nothing moves."""
        operation, request, answer = data.draw(st.sampled_from(self.done))
        if operation == "transfer":
            again = transfer_post(**request)
            assert (again.pk, again.replayed) == (answer, True)
        elif operation == "hold":
            assert hold_create(**request).pk == answer
        elif operation == "settle":
            result = hold_settle(**request)
            assert result.replayed and (result.paid, result.released) == answer
        else:
            assert hold_cancel(**request).pk == answer

    @invariant()
    def balances_match_the_model_and_the_entries(self) -> None:
        stored = dict(Account.objects.values_list("pk", "balance"))
        assert {pk: b for pk, b in stored.items() if b} == {
            pk: b for pk, b in self.expected.items() if b
        }
        assert_consistent()  # zero sums, no negative ordinary account, entry chains


@pytest.mark.django_db
def test_the_ledger_keeps_its_invariants(tenant):
    Ledger.tenant = tenant
    runner = Ledger.TestCase
    runner.settings = settings(
        max_examples=10,
        stateful_step_count=20,
        deadline=None,
        # No shrinking: every step is a database round trip, and shrinking a failure ran
        # past the test timeout; the failing steps are printed as they are.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    runner().runTest()
