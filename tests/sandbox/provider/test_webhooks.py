"""Events reach the webhook signed, are retried with doubling delays until a 2xx (or the
attempts run out), and can be delivered again as they are or broken on purpose."""

from __future__ import annotations

import time

import pytest

from sandbox.provider import SandboxProvider
from tests.sandbox.provider.helpers import BACKOFF, MAX_ATTEMPTS, SECRET, signature_of


def test_a_deposit_arrives_as_a_signed_event(provider, receiver):
    sent = provider.deposit("user-42", "USDT", 1_500_000, event_id="evt_fixed_1")

    [delivery] = receiver.wait_for(1)

    assert delivery.json() == {
        "id": "evt_fixed_1",
        "type": "deposit.succeeded",
        "created": sent["event"]["created"],
        "data": {"reference": "user-42", "currency": "USDT", "amount": 1_500_000},
    }
    assert delivery.headers["Content-Type"] == "application/json"
    timestamp, valid = signature_of(delivery)
    assert valid and abs(timestamp - time.time()) < 5
    provider.wait_idle()
    event = provider.event("evt_fixed_1")
    assert event["state"] == "delivered"
    assert [(a["kind"], a["status"]) for a in event["attempts"]] == [("delivery", 200)]


def test_a_failed_delivery_is_retried_with_doubling_delays(provider, receiver):
    receiver.answers.extend([500, 503])

    provider.deposit("user-1", "TON", 10)
    deliveries = receiver.wait_for(3)
    provider.wait_idle()

    assert len({d.body for d in deliveries}) == 1  # the same event each time
    assert all(signature_of(d)[1] for d in deliveries)
    first_gap = deliveries[1].at - deliveries[0].at
    second_gap = deliveries[2].at - deliveries[1].at
    assert first_gap >= BACKOFF[0] * 0.9 and second_gap >= 2 * BACKOFF[0] * 0.9
    [event] = provider.events()
    assert event["state"] == "delivered"
    assert [(a["kind"], a["status"]) for a in event["attempts"]] == [
        ("delivery", 500),
        ("retry", 503),
        ("retry", 200),
    ]


def test_delivery_gives_up_after_the_last_attempt(provider, receiver):
    receiver.answers.extend([500] * 10)

    provider.deposit("user-1", "TON", 10)
    provider.wait_idle()

    assert len(receiver.received) == MAX_ATTEMPTS
    [event] = provider.events()
    assert event["state"] == "failed"


def test_an_unreachable_webhook_counts_as_a_failure(provider, receiver):
    receiver.close()  # nobody listens on its port any more

    provider.deposit("user-1", "TON", 10)
    provider.wait_idle()

    [event] = provider.events()
    assert event["state"] == "failed"
    assert {(a["status"], a["error"]) for a in event["attempts"]} == {(None, "connection refused")}


def test_events_wait_for_a_webhook_url(receiver):
    provider = SandboxProvider(webhook_url=None, webhook_secret=SECRET, webhook_backoff=BACKOFF)
    provider.start()
    try:
        provider.deposit("user-1", "USDC", 5)
        provider.wait_idle()
        assert provider.events()[0]["state"] == "pending" and receiver.received == []

        provider.configure_webhook(receiver.url)

        [delivery] = receiver.wait_for(1)
        assert delivery.json()["data"]["reference"] == "user-1"
    finally:
        provider.stop()


def test_an_event_can_be_delivered_again_as_it_is(provider, receiver):
    event = provider.deposit("user-7", "USDT", 99)["event"]
    [first] = receiver.wait_for(1)
    provider.wait_idle()

    attempt = provider.resend(event["id"])

    [_, duplicate] = receiver.wait_for(2)
    assert attempt["kind"] == "resend" and attempt["status"] == 200
    assert duplicate.body == first.body  # byte for byte: the same event id and content
    assert signature_of(duplicate)[1]
    receiver.answers.append(500)
    assert provider.resend(event["id"])["status"] == 500
    provider.wait_idle()
    assert len(receiver.received) == 3  # a manual delivery is not retried


@pytest.mark.parametrize(
    "fault", ["wrong_signature", "old_timestamp", "no_signature", "altered_body"]
)
def test_a_forged_delivery_breaks_exactly_one_thing(provider, receiver, fault):
    event = provider.deposit("user-9", "USDT", 100)["event"]
    [genuine] = receiver.wait_for(1)
    provider.wait_idle()
    receiver.answers.append(400)  # what a receiver that checks signatures answers

    attempt = provider.forge(event["id"], fault)

    [_, forged] = receiver.wait_for(2)
    assert (attempt["kind"], attempt["status"]) == (f"forged:{fault}", 400)
    if fault == "no_signature":
        assert "X-Provider-Signature" not in forged.headers
        return
    timestamp, valid = signature_of(forged)
    now = time.time()
    if fault == "wrong_signature":
        assert not valid and forged.body == genuine.body and abs(timestamp - now) < 5
    elif fault == "old_timestamp":
        assert valid and forged.body == genuine.body and now - timestamp >= 600
    else:
        assert not valid and forged.json()["data"]["amount"] != 100
        assert forged.json()["id"] == event["id"]
    provider.wait_idle()
    assert len(receiver.received) == 2  # not retried
    assert provider.event(event["id"])["state"] == "delivered"  # the genuine one counted


def test_a_reset_stops_the_retries(provider, receiver):
    receiver.answers.extend([500] * 10)
    provider.deposit("user-1", "TON", 10)
    receiver.wait_for(1)

    provider.reset()
    provider.wait_idle()
    time.sleep(BACKOFF[1])

    assert len(receiver.received) <= 2 and provider.events() == []
