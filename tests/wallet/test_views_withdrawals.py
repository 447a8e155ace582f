"""Withdrawals through the API, paid by the sandbox provider over HTTP from the payout job:
held at once, settled on success, released on failure or refusal; approval above the
community's threshold; the daily limit; refused input holds nothing; one community's
admin never reaches another's withdrawals."""

from __future__ import annotations

import pytest
from django.db import connection

from botruntime.models import Job
from notifications.models import OutboxMessage
from tests.wallet.helpers import (
    TRON_ADDRESS,
    assert_consistent,
    balance,
    escrow_of_user,
    external,
    fund_user,
    run_payout_jobs,
)
from wallet.models import Withdrawal
from wallet.services import withdrawal_policy_set

USER, ADMIN, OTHER = 7301, 7302, 7303
URL = "/api/v1/wallet/withdrawals"


@pytest.fixture
def people(tenant, user_with_role, client_for, provider):
    """A member with 10 USDT of rewards, an admin, another member; their API clients."""
    user_with_role(tenant, "member", user_id=USER, username="user")
    user_with_role(tenant, "admin", user_id=ADMIN, username="admin")
    user_with_role(tenant, "member", user_id=OTHER, username="other")
    account = fund_user(tenant, USER, 10_000_000)
    clients = {
        name: client_for(tenant, user_id=uid, username=name)
        for name, uid in (("user", USER), ("admin", ADMIN), ("other", OTHER))
    }
    return account, clients


def request(client, amount: int, *, key: str, currency: str = "USDT", to: str = TRON_ADDRESS):
    return client.post(
        URL,
        {"currency": currency, "amount": amount, "destination": to},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def steps(tenant) -> list[str]:
    return list(
        OutboxMessage.objects.filter(tenant=tenant, chat_id=USER)
        .order_by("id")
        .values_list("event", flat=True)
    )


def test_a_withdrawal_is_held_at_once_then_paid_by_the_job(tenant, people, provider):
    account, clients = people
    response = request(clients["user"], 4_000_000, key="w-1")
    assert response.status_code == 201, response.content
    withdrawal = response.json()
    assert withdrawal["status"] == "queued"
    assert (balance(account), escrow_of_user(tenant, USER)) == (6_000_000, 4_000_000)
    # The request only queued the payout: nothing was sent during it.
    assert provider.server.payouts() == []
    assert Job.objects.filter(kind="wallet.withdrawal_payout").count() == 1

    assert run_payout_jobs() == ["done"]
    [payout] = provider.server.payouts()
    assert (payout["withdrawal_id"], payout["amount"], payout["destination"]) == (
        str(withdrawal["id"]),
        4_000_000,
        TRON_ADDRESS,
    )
    followed = clients["user"].get(f"{URL}/{withdrawal['id']}").json()
    assert (followed["status"], followed["payout_id"]) == ("paid", payout["id"])
    assert (balance(account), escrow_of_user(tenant, USER)) == (6_000_000, 0)
    assert balance(external(tenant)) == -10_000_000 + 4_000_000
    assert steps(tenant) == ["withdrawal.queued", "withdrawal.paid"]
    # The same key again: the same withdrawal, nothing more held or paid.
    again = request(clients["user"], 4_000_000, key="w-1")
    assert (again.status_code, again.json()["id"]) == (200, withdrawal["id"])
    other_body = request(clients["user"], 5_000_000, key="w-1")
    assert (other_body.status_code, other_body.json()["code"]) == (409, "idempotency_conflict")
    assert balance(account) == 6_000_000
    assert [w["id"] for w in clients["user"].get(URL).json()["results"]] == [withdrawal["id"]]
    assert clients["other"].get(URL).json()["results"] == []
    assert_consistent()


@pytest.mark.parametrize("outcome", ["failed", "rejected"])
def test_a_failed_or_refused_payout_gives_the_money_back(tenant, people, provider, outcome):
    account, clients = people
    provider.server.script_payouts(outcome)
    withdrawal = request(clients["user"], 3_000_000, key="w-2").json()
    run_payout_jobs()
    followed = clients["user"].get(f"{URL}/{withdrawal['id']}").json()
    assert followed["status"] == "failed"
    assert followed["failure_code"] == (
        "destination_rejected" if outcome == "failed" else "insufficient_funds"
    )
    assert (balance(account), escrow_of_user(tenant, USER)) == (10_000_000, 0)
    assert steps(tenant) == ["withdrawal.queued", "withdrawal.failed"]
    assert_consistent()


def test_above_the_threshold_an_admin_approves_or_rejects(tenant, people, provider):
    account, clients = people
    withdrawal_policy_set(
        tenant=tenant, currency="USDT", approval_above=1_000_000, daily_limit=None
    )
    small = request(clients["user"], 1_000_000, key="small").json()
    big = request(clients["user"], 2_000_000, key="big").json()
    bigger = request(clients["user"], 3_000_000, key="bigger").json()
    assert (small["status"], big["status"], bigger["status"]) == (
        "queued",
        "pending_approval",
        "pending_approval",
    )
    assert balance(account) == 4_000_000  # all three held
    pending = clients["admin"].get(f"{URL}/pending").json()["results"]
    assert [w["id"] for w in pending] == [bigger["id"], big["id"]]
    assert clients["user"].post(f"{URL}/{big['id']}/approve").status_code == 403

    approved = clients["admin"].post(f"{URL}/{big['id']}/approve")
    assert approved.json()["status"] == "queued"
    rejected = clients["admin"].post(f"{URL}/{bigger['id']}/reject")
    assert rejected.json()["status"] == "rejected"
    twice = clients["admin"].post(f"{URL}/{bigger['id']}/approve")
    assert (twice.status_code, twice.json()["code"]) == (409, "not_pending_approval")
    assert sorted(run_payout_jobs()) == ["done", "done"]
    statuses = dict(Withdrawal.objects.values_list("id", "status"))
    assert statuses == {small["id"]: "paid", big["id"]: "paid", bigger["id"]: "rejected"}
    assert balance(account) == 7_000_000
    assert len(provider.server.payouts()) == 2
    assert "withdrawal.approved" in steps(tenant) and "withdrawal.rejected" in steps(tenant)
    assert_consistent()


def test_the_daily_limit_counts_what_was_not_given_back(tenant, people, provider):
    account, clients = people
    put = clients["admin"].put(
        "/api/v1/wallet/withdrawal-policies",
        {"currency": "USDT", "approval_above": None, "daily_limit": 5_000_000},
        format="json",
    )
    assert put.status_code == 200, put.content
    provider.server.script_payouts("failed")
    assert request(clients["user"], 4_000_000, key="a").status_code == 201
    run_payout_jobs()  # failed: it no longer counts
    assert request(clients["user"], 4_000_000, key="b").status_code == 201
    over = request(clients["user"], 2_000_000, key="c")
    assert (over.status_code, over.json()["code"]) == (409, "daily_limit_exceeded")
    assert set(over.json()) == {"detail", "code"}
    assert Withdrawal.objects.count() == 2
    assert balance(account) == 6_000_000  # only "b" is held
    assert request(clients["user"], 1_000_000, key="d").status_code == 201


def test_refused_input_holds_nothing(tenant, people):
    account, clients = people
    cases = [
        (
            {"currency": "USDT", "amount": 1000, "destination": "not-an-address"},
            "invalid_destination",
        ),
        (
            {"currency": "USDT", "amount": 1000, "destination": "0x" + "g" * 40},
            "invalid_destination",
        ),
        (
            {"currency": "XTR", "amount": 10, "destination": TRON_ADDRESS},
            "currency_not_withdrawable",
        ),
        (
            {"currency": "DOGE", "amount": 10, "destination": TRON_ADDRESS},
            "currency_not_withdrawable",
        ),
        ({"currency": "USDT", "amount": 0, "destination": TRON_ADDRESS}, "min_value"),
        ({"currency": "USDT", "amount": "1.5", "destination": TRON_ADDRESS}, "invalid"),
        ({"currency": "USDT", "amount": 10, "destination": TRON_ADDRESS, "x": 1}, "unknown_field"),
        (
            {"currency": "USDT", "amount": 20_000_000, "destination": TRON_ADDRESS},
            "insufficient_funds",
        ),
    ]
    for n, (body, code) in enumerate(cases):
        response = clients["user"].post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=f"bad-{n}")
        assert 400 <= response.status_code < 500, (body, response.content)
        assert {"detail", "code"} <= set(response.json())
        assert response.json()["code"] == code, (body, response.json())
    no_key = clients["user"].post(
        URL, {"currency": "USDT", "amount": 10, "destination": TRON_ADDRESS}, format="json"
    )
    assert (no_key.status_code, no_key.json()["code"]) == (400, "idempotency_key_missing")
    assert not Withdrawal.objects.exists()
    assert (balance(account), escrow_of_user(tenant, USER)) == (10_000_000, 0)


def test_another_communitys_admin_or_member_never_reaches_a_withdrawal(
    tenant, make_tenant, people, user_with_role, client_for, provider
):
    account, clients = people
    withdrawal_policy_set(tenant=tenant, currency="USDT", approval_above=0, daily_limit=None)
    mine = request(clients["user"], 1_000_000, key="x").json()
    assert mine["status"] == "pending_approval"
    connection.set_schema_to_public()
    other = make_tenant()
    user_with_role(other, "owner", user_id=7401, username="b_owner")
    # The same Telegram user is also a member of B: still not B's withdrawal.
    outsider = client_for(other, user_id=7401, username="b_owner")
    same_person = client_for(other, user_id=USER, username="user")
    for client, method, path in (
        (outsider, "post", f"{URL}/{mine['id']}/approve"),
        (outsider, "post", f"{URL}/{mine['id']}/reject"),
        (outsider, "get", f"{URL}/{mine['id']}"),
        (same_person, "get", f"{URL}/{mine['id']}"),
        (clients["other"], "get", f"{URL}/{mine['id']}"),  # another member of A
    ):
        response = getattr(client, method)(path)
        assert (response.status_code, response.json()["code"]) == (404, "withdrawal_not_found")
    assert outsider.get(f"{URL}/pending").json()["results"] == []
    assert Withdrawal.objects.get().status == "pending_approval"
    assert balance(account) == 9_000_000
