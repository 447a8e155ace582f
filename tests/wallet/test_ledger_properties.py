"""The wallet as a state machine (Hypothesis): random deposits (posted transfers, and
provider deposits through the signed webhook), transfers, refunds, holds, settlements and
cancels, and users' withdrawals through the service with the sandbox provider paying or
failing them, with replays of earlier requests under their keys (a webhook delivered
again included). After every step: each currency sums to zero, no ordinary account is
negative, every stored balance equals the sum of its entries (and the model's), and a
replay moved nothing."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from accounts.services import user_touch
from config.errors import ServiceError
from tests.wallet.helpers import (
    TRON_ADDRESS,
    assert_consistent,
    bind_group,
    external,
    group_account,
    post_signed,
    run_payout_jobs,
    signature_for,
    user_account,
)
from wallet.errors import WalletError
from wallet.models import Account, Withdrawal
from wallet.references import reference_for
from wallet.services import (
    hold_cancel,
    hold_create,
    hold_settle,
    transfer_post,
    withdrawal_request,
)

USERS = 3
amounts = st.integers(min_value=1, max_value=500)
_event_ids = itertools.count(1)  # provider event ids: unique across examples
PAYOUT_OUTCOMES = ["succeeded", "failed", "rejected"]  # what the sandbox provider answers
T = TypeVar("T")


def _unless_unaffordable(
    service: Callable[..., T], request: dict[str, Any], affordable: bool
) -> T | None:
    """``service(**request)``, which must refuse (insufficient_funds) exactly when the
    model says it is not ``affordable``: its result, or None when refused."""
    try:
        done = service(**request)
    except WalletError as refused:
        assert not affordable and refused.code == "insufficient_funds"
        return None
    assert affordable
    return done


class Ledger(RuleBasedStateMachine):
    tenant: Any = None  # set by the test (a fixture's tenant)
    provider: Any = None  # the sandbox provider (tests/wallet/conftest.py)

    def __init__(self) -> None:
        super().__init__()
        # Each example in a savepoint, rolled back in teardown: a fresh ledger each time.
        self._example = transaction.atomic()
        self._example.__enter__()
        tenant = self.tenant
        self.external = external(tenant)
        # Users 1..USERS: their accounts and the Telegram users who withdraw from them.
        self.people = [
            user_touch(profile={"id": n, "first_name": f"U{n}"}) for n in range(1, USERS + 1)
        ]
        self.users = [user_account(tenant, person.telegram_id) for person in self.people]
        self.group = group_account(tenant)
        bind_group(tenant, self.group.owner_id)  # where provider deposits are addressed
        self.withdrawals: list[Withdrawal] = []  # waiting for their payout
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
        transfer = _unless_unaffordable(transfer_post, request, affordable)
        if transfer is None:
            return
        self._move(debit, credit, amount)
        self.done.append(("transfer", request, transfer.pk))

    @initialize(funds=st.lists(amounts, min_size=USERS, max_size=USERS))
    def fund_users(self, funds: list[int]) -> None:
        """Every user starts with something, so withdrawals and payouts come early."""
        for user, amount in enumerate(funds):
            self.deposit(user, amount)

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
    def provider_deposit(self, amount: int) -> None:
        """The provider's signed webhook credits the group (external → group)."""
        data = {
            "reference": reference_for(tenant_id=self.tenant.pk, chat_id=self.group.owner_id),
            "currency": self.group.currency,
            "amount": amount,
        }
        event = {"id": f"evt_sm_{next(_event_ids)}", "type": "deposit.succeeded", "data": data}
        body = json.dumps(event).encode()
        response = post_signed(body, signature_for(body))
        assert (response.status_code, response.json()["outcome"]) == (200, "credited")
        self._move(self.external, self.group, amount)
        self.done.append(("webhook", {"body": body}, "duplicate"))

    @rule(user=st.integers(0, USERS - 1), amount=amounts)
    def withdraw_request(self, user: int, amount: int) -> None:
        """A user withdraws through the service: the amount moves to their hold at once."""
        request = dict(
            tenant=self.tenant, user=self.people[user], currency=self.users[user].currency,
            amount=amount, destination=TRON_ADDRESS, idempotency_key=self._key(),
        )  # fmt: skip
        affordable = self.expected.get(self.users[user].pk, 0) >= amount
        try:
            requested = withdrawal_request(**request)
        except ServiceError as refused:
            assert not affordable and refused.code == "insufficient_funds"
            return
        assert affordable and requested.created
        withdrawal = requested.withdrawal
        assert withdrawal.hold is not None
        self.expected[self.users[user].pk] -= amount
        escrow = withdrawal.hold.escrow_id
        self.expected[escrow] = self.expected.get(escrow, 0) + amount
        self.withdrawals.append(withdrawal)
        self.done.append(("withdrawal", request, withdrawal.pk))

    @precondition(lambda self: bool(self.withdrawals))
    @rule(data=st.data())
    def payout(self, data: st.DataObject) -> None:
        """The payout jobs run every waiting withdrawal, each paid, failed or rejected by
        the provider: paid settles its hold to the tenant's external account, failed or
        rejected releases it to the user."""
        outcomes = [data.draw(st.sampled_from(PAYOUT_OUTCOMES)) for _ in self.withdrawals]
        self.provider.server.script_payouts(*outcomes)
        assert run_payout_jobs() == ["done"] * len(outcomes)
        statuses = []
        for withdrawal in self.withdrawals:
            withdrawal.refresh_from_db()
            assert withdrawal.hold is not None
            statuses.append(withdrawal.status)
            self.expected[withdrawal.hold.escrow_id] -= withdrawal.amount
            if withdrawal.status == "paid":
                receiver = self.external.pk
            else:
                receiver = next(u.pk for u in self.users if u.owner_id == withdrawal.user_id)
            self.expected[receiver] = self.expected.get(receiver, 0) + withdrawal.amount
        paid = ["paid" if outcome == "succeeded" else "failed" for outcome in outcomes]
        assert sorted(statuses) == sorted(paid)
        self.withdrawals = []

    @rule(amount=amounts)
    def hold(self, amount: int) -> None:
        request = dict(
            tenant=self.tenant, group_account=self.group, amount=amount, reference="raid",
            idempotency_key=self._key(),
        )  # fmt: skip
        affordable = self.expected.get(self.group.pk, 0) >= amount
        hold = _unless_unaffordable(hold_create, request, affordable)
        if hold is None:
            return
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
        elif operation == "webhook":  # the provider delivers the same event again
            response = post_signed(request["body"], signature_for(request["body"]))
            assert response.json()["outcome"] == answer
        elif operation == "withdrawal":
            again = withdrawal_request(**request)
            assert (again.withdrawal.pk, again.created) == (answer, False)
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
def test_the_ledger_keeps_its_invariants(tenant, provider):
    Ledger.tenant, Ledger.provider = tenant, provider
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
