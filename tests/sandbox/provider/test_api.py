"""The provider's ``/v1`` API over HTTP: a bearer API key, payouts created once per
Idempotency-Key (the same body answers the same payout, another body 409) and once per
withdrawal, validation that saves nothing, and payouts read back by id or withdrawal."""

from __future__ import annotations

import pytest

from tests.sandbox.provider.helpers import http, payout

BODY = {
    "withdrawal_id": "wd-1",
    "currency": "USDT",
    "amount": 2_500_000,
    "destination": "UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG",
}


@pytest.fixture
def base(provider):
    provider.script_payouts("pending")  # the first payout stays pending: nothing moves
    return provider.base_url


def test_a_payout_is_created_and_read_back(base):
    created = payout(base, BODY)

    assert created.status_code == 201
    body = created.json()
    assert body["id"].startswith("po_") and body["object"] == "payout"
    assert {k: body[k] for k in BODY} == BODY
    assert (body["status"], body["failure_code"]) == ("pending", None)
    auth = {"Authorization": "Bearer sk_test_provider_key"}
    assert http().get(f"{base}/v1/payouts/{body['id']}", headers=auth).json() == body
    listed = http().get(f"{base}/v1/payouts", params={"withdrawal_id": "wd-1"}, headers=auth)
    assert listed.json() == {"object": "list", "data": [body]}
    missing = http().get(f"{base}/v1/payouts/po_nope", headers=auth)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "resource_missing")


def test_the_same_key_and_body_answer_the_same_payout(base, provider):
    first = payout(base, BODY)

    again = payout(base, dict(reversed(BODY.items())))  # key order does not matter

    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(provider.payouts()) == 1


def test_the_same_key_with_another_body_is_a_conflict(base, provider):
    payout(base, BODY)

    conflict = payout(base, {**BODY, "amount": BODY["amount"] + 1})

    assert conflict.status_code == 409
    assert conflict.json()["error"] == {
        "type": "idempotency_error",
        "code": "idempotency_key_reused",
        "message": "this Idempotency-Key was used with a different body",
    }
    assert len(provider.payouts()) == 1


def test_a_withdrawal_is_paid_once_whatever_the_key(base, provider):
    first = payout(base, BODY, key="key-1").json()

    second = payout(base, BODY, key="key-2")

    assert second.status_code == 409
    assert second.json()["error"]["code"] == "withdrawal_exists"
    assert second.json()["error"]["payout"] == first["id"]
    assert len(provider.payouts()) == 1


def test_a_failed_withdrawal_may_be_tried_again_under_a_new_key(base, provider):
    first = payout(base, BODY, key="key-1").json()
    provider.settle_payout(first["id"], "failed")

    retried = payout(base, BODY, key="key-2")

    assert retried.status_code == 201 and retried.json()["id"] != first["id"]
    assert payout(base, BODY, key="key-1").json()["status"] == "failed"  # the key's payout


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({}, 401, "invalid_api_key"),
        ({"Authorization": "Bearer wrong"}, 401, "invalid_api_key"),
        ({"Authorization": "Basic sk_test_provider_key"}, 401, "invalid_api_key"),
    ],
)
def test_the_api_wants_the_bearer_key(base, headers, status, code):
    for response in (
        http().post(f"{base}/v1/payouts", json=BODY, headers={**headers, "Idempotency-Key": "k"}),
        http().get(f"{base}/v1/payouts", headers=headers),
        http().get(f"{base}/v1/payouts/po_x", headers=headers),
    ):
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"withdrawal_id": None}, "withdrawal_id", "parameter_missing"),
        ({"destination": ""}, "destination", "parameter_missing"),
        ({"currency": "DOGE"}, "currency", "parameter_invalid"),
        ({"amount": 0}, "amount", "parameter_invalid"),
        ({"amount": 1.5}, "amount", "parameter_invalid"),
        ({"amount": "100"}, "amount", "parameter_invalid"),
        ({"amount": True}, "amount", "parameter_invalid"),
        ({"memo": "hi"}, "memo", "parameter_unknown"),
    ],
)
def test_an_invalid_request_is_refused_and_saves_nothing(base, provider, change, param, code):
    refused = payout(base, {k: v for k, v in {**BODY, **change}.items() if v is not None})

    assert refused.status_code == 400
    error = refused.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)
    # Nothing was saved under the key: the corrected request goes through with it.
    assert payout(base, BODY).status_code == 201
    assert len(provider.payouts()) == 1


def test_a_payout_needs_an_idempotency_key_and_a_json_body(base):
    no_key = payout(base, BODY, key=None)
    not_json = http().post(
        f"{base}/v1/payouts",
        content=b"withdrawal_id=1",
        headers={"Authorization": "Bearer sk_test_provider_key", "Idempotency-Key": "k"},
    )

    assert (no_key.status_code, no_key.json()["error"]["code"]) == (400, "idempotency_key_missing")
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, "invalid_json")
