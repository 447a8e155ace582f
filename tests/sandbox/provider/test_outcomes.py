"""Scripted payout outcomes: by default a payout is accepted pending and succeeds right
after; a test can make the next ones succeed at once, fail, be rejected, or stay pending
until it settles them. Every status change reaches the webhook as payout.succeeded or
payout.failed."""

from __future__ import annotations

import time

import pytest

from sandbox.provider import ControlError
from tests.sandbox.provider.helpers import control, payout, signature_of

BODY = {"withdrawal_id": "wd-9", "currency": "TON", "amount": 7_000_000_000, "destination": "EQx"}


def test_by_default_a_payout_is_pending_then_succeeds(provider, receiver):
    created = payout(provider.base_url, BODY).json()

    [delivery] = receiver.wait_for(1)

    assert created["status"] == "pending"
    event = delivery.json()
    assert event["type"] == "payout.succeeded" and signature_of(delivery)[1]
    assert event["data"]["id"] == created["id"]
    assert (event["data"]["status"], event["data"]["withdrawal_id"]) == ("succeeded", "wd-9")
    assert provider.payouts()[0]["status"] == "succeeded"


def test_a_payout_scripted_to_fail_fails_with_a_reason(provider, receiver):
    provider.script_payouts({"result": "failed", "failure_code": "address_invalid"})

    created = payout(provider.base_url, BODY).json()

    [delivery] = receiver.wait_for(1)
    assert (created["status"], created["failure_code"]) == ("failed", "address_invalid")
    assert created["failure_message"]
    assert delivery.json()["type"] == "payout.failed"
    assert delivery.json()["data"]["failure_code"] == "address_invalid"


def test_a_rejected_payout_is_refused_and_stays_refused_for_its_key(provider, receiver):
    provider.script_payouts("rejected", "succeeded")

    refused = payout(provider.base_url, BODY)
    again = payout(provider.base_url, BODY)

    assert refused.status_code == 402
    assert refused.json()["error"]["code"] == "insufficient_funds"
    assert (again.status_code, again.json()) == (402, refused.json())
    assert provider.payouts() == []
    # A new key runs anew (and takes the next outcome).
    assert payout(provider.base_url, BODY, key="key-2").json()["status"] == "succeeded"
    provider.wait_idle()
    assert [d.json()["type"] for d in receiver.received] == ["payout.succeeded"]


def test_a_server_error_is_not_saved_so_a_retry_with_the_key_runs_again(provider):
    provider.script_payouts({"result": "rejected", "http_status": 503, "code": "unavailable"})

    assert payout(provider.base_url, BODY).status_code == 503
    retried = payout(provider.base_url, BODY)

    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


def test_a_pending_payout_waits_until_it_is_settled(provider, receiver):
    provider.script_payouts("pending", "pending")
    first = payout(provider.base_url, BODY).json()
    second = payout(provider.base_url, {**BODY, "withdrawal_id": "wd-10"}, key="key-2").json()
    provider.wait_idle()
    assert receiver.received == []

    settled = provider.settle_payout(first["id"], "failed", failure_code="chain_congested")
    over_http = control(
        provider.base_url, "POST", f"/payouts/{second['id']}/settle", {"status": "succeeded"}
    )

    assert (settled["status"], settled["failure_code"]) == ("failed", "chain_congested")
    assert over_http.json()["status"] == "succeeded"
    deliveries = receiver.wait_for(2)
    assert sorted(d.json()["type"] for d in deliveries) == ["payout.failed", "payout.succeeded"]
    with pytest.raises(ControlError) as twice:
        provider.settle_payout(first["id"], "succeeded")
    assert twice.value.code == "not_pending"


def test_a_pending_payout_can_fail_on_its_own_later(provider, receiver):
    provider.script_payouts({"result": "pending", "then": "failed", "after": 0.05})

    asked = time.monotonic()
    created = payout(provider.base_url, BODY).json()
    [delivery] = receiver.wait_for(1)

    assert created["status"] == "pending"
    assert delivery.json()["type"] == "payout.failed"
    assert delivery.at - asked >= 0.045  # after the delay, not with the answer
    assert provider.payouts()[0]["status"] == "failed"


def test_outcomes_are_scripted_over_http(provider):
    base = provider.base_url

    queued = control(
        base,
        "POST",
        "/payouts/outcomes",
        {
            "outcomes": [
                "failed",
                {"result": "rejected", "http_status": 422, "code": "destination_invalid"},
            ]
        },
    )
    bad = control(base, "POST", "/payouts/outcomes", {"outcomes": ["exploded"]})
    then_without_pending = control(
        base, "POST", "/payouts/outcomes", {"outcomes": [{"result": "failed", "then": "failed"}]}
    )

    assert [o["result"] for o in queued.json()] == ["failed", "rejected"]
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_outcome")
    assert then_without_pending.status_code == 400
    assert payout(base, BODY).json()["status"] == "failed"
    assert payout(base, {**BODY, "withdrawal_id": "wd-10"}, key="key-2").status_code == 422
    assert control(base, "GET", "/payouts/outcomes").json() == []
    control(base, "POST", "/payouts/outcomes", {"outcomes": ["pending"]})
    control(base, "DELETE", "/payouts/outcomes")
    assert control(base, "GET", "/payouts/outcomes").json() == []
