"""The control API over HTTP, as a test in another process or the demo drives it:
deposits, duplicate and forged deliveries, the webhook's address, the state and a reset.
Errors answer {"detail", "code"}."""

from __future__ import annotations

import pytest

from tests.sandbox.provider.helpers import control, http, signature_of


def test_a_deposit_over_http_is_delivered(provider, receiver):
    created = control(
        provider.base_url,
        "POST",
        "/deposits",
        {"reference": "tenant-3:user-8", "currency": "USDC", "amount": 42, "event_id": "evt_a"},
    )

    assert created.status_code == 201
    body = created.json()
    assert body["event"]["id"] == "evt_a" and body["deposit"]["event_id"] == "evt_a"
    assert body["deposit"]["id"].startswith("dep_")
    [delivery] = receiver.wait_for(1)
    assert delivery.json() == body["event"]
    again = control(
        provider.base_url,
        "POST",
        "/deposits",
        {"reference": "x", "currency": "USDC", "amount": 1, "event_id": "evt_a"},
    )
    assert (again.status_code, again.json()["code"]) == (409, "event_exists")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"currency": "USDT", "amount": 1}, "missing_field"),
        ({"reference": "r", "currency": "XYZ", "amount": 1}, "invalid"),
        ({"reference": "r", "currency": "USDT", "amount": -5}, "invalid"),
        ({"reference": "", "currency": "USDT", "amount": 5}, "invalid"),
        ({"reference": "r", "currency": "USDT", "amount": 5, "event_id": 7}, "invalid"),
    ],
)
def test_a_bad_deposit_is_refused(provider, receiver, body, code):
    refused = control(provider.base_url, "POST", "/deposits", body)

    assert (refused.status_code, refused.json()["code"]) == (400, code)
    assert provider.events() == []


def test_duplicate_and_forged_deliveries_over_http(provider, receiver):
    base = provider.base_url
    event = provider.deposit("r", "USDT", 5)["event"]
    receiver.wait_for(1)

    resent = control(base, "POST", f"/events/{event['id']}/resend")
    forged = control(base, "POST", f"/events/{event['id']}/forge", {"fault": "wrong_signature"})
    unknown_fault = control(base, "POST", f"/events/{event['id']}/forge", {"fault": "gremlins"})
    unknown_event = control(base, "POST", "/events/evt_nope/resend")

    assert (resent.json()["kind"], resent.json()["status"]) == ("resend", 200)
    assert forged.json()["kind"] == "forged:wrong_signature"
    [_, duplicate, bad] = receiver.wait_for(3)
    assert signature_of(duplicate)[1] and not signature_of(bad)[1]
    assert (unknown_fault.status_code, unknown_fault.json()["code"]) == (400, "invalid_fault")
    assert (unknown_event.status_code, unknown_event.json()["code"]) == (404, "event_not_found")
    shown = control(base, "GET", f"/events/{event['id']}").json()
    assert [a["kind"] for a in shown["attempts"]] == [
        "delivery",
        "resend",
        "forged:wrong_signature",
    ]
    assert [e["id"] for e in control(base, "GET", "/events?type=deposit.succeeded").json()] == [
        event["id"]
    ]


def test_the_webhook_moves_and_its_secret_changes(provider, receiver):
    base = provider.base_url
    control(base, "POST", "/webhook", {"url": None})
    event = provider.deposit("r", "USDT", 5)["event"]
    provider.wait_idle()
    assert receiver.received == []

    moved = control(base, "POST", "/webhook", {"url": receiver.url, "secret": "whsec_new"})

    assert moved.status_code == 200
    [delivery] = receiver.wait_for(1)
    assert delivery.json()["id"] == event["id"]
    assert signature_of(delivery, secret="whsec_new")[1]
    bad = control(base, "POST", "/webhook", {"url": "ftp://x"})
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")


def test_the_state_shows_everything_and_a_reset_forgets_it(provider, receiver):
    base = provider.base_url
    provider.deposit("r", "USDT", 5)
    provider.script_payouts("failed")

    state = control(base, "GET", "/state").json()

    assert state["webhook_url"] == receiver.url
    assert [d["reference"] for d in state["deposits"]] == ["r"]
    assert [o["result"] for o in state["outcomes"]] == ["failed"]
    assert "secret" not in str(state).lower()
    control(base, "POST", "/reset")
    assert control(base, "GET", "/state").json() == {
        "webhook_url": receiver.url,
        "deposits": [],
        "payouts": [],
        "events": [],
        "outcomes": [],
    }
    not_json = http().post(f"{base}/control/deposits", content=b"reference=r")
    assert (not_json.status_code, not_json.json()["code"]) == (400, "invalid_json")
