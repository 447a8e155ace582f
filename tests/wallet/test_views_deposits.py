"""Provider deposits end to end: the sandbox provider signs and delivers over HTTP, the
platform's webhook checks and credits. A deposit is credited once per event id; every
refused delivery (forged, stale, misdirected, malformed) credits nothing, answers 4xx
with detail and code, and is recorded. Deposit instructions are for fund managers of the
group's own community only."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from notifications.models import OutboxMessage
from tests.wallet.helpers import (
    assert_consistent,
    deliver,
    post_signed,
    signature_for,
)
from wallet.models import Account, ProviderEvent, Transfer
from wallet.references import reference_for

CHAT = -1002000000001


def group_balance(tenant, chat_id: int = CHAT, currency: str = "USDT") -> int:
    found = Account.objects.filter(
        tenant=tenant, owner_kind="group", owner_id=chat_id, currency=currency, kind="available"
    ).first()
    return found.balance if found else 0


@pytest.fixture
def funded(tenant, bound_group, user_with_role, client_for, provider):
    """A community with a bound group, its owner and an admin (fund managers), a member,
    and the group's deposit reference as the API hands it out."""
    bound_group(tenant, CHAT)
    user_with_role(tenant, "owner", user_id=7101, username="owner")
    user_with_role(tenant, "admin", user_id=7102, username="admin")
    user_with_role(tenant, "member", user_id=7103, username="member")
    response = client_for(tenant, user_id=7102, username="admin").get(
        f"/api/v1/wallet/groups/{CHAT}/deposit-instructions?currency=USDT"
    )
    assert response.status_code == 200, response.content
    return response.json()["reference"]


def test_instructions_name_the_provider_and_a_reference_of_this_group(tenant, funded, client_for):
    assert funded == reference_for(tenant_id=tenant.pk, chat_id=CHAT)
    assert funded.startswith(f"bb1.{tenant.pk}.{CHAT}.")
    owner = client_for(tenant, user_id=7101, username="owner")
    every = owner.get(f"/api/v1/wallet/groups/{CHAT}/deposit-instructions").json()
    assert (every["title"], every["provider"], every["reference"]) == (
        f"Group {CHAT}",
        "sandbox",
        funded,
    )
    assert [c["currency"] for c in every["currencies"]] == ["XTR", "USDT", "TON"]
    assert {c["memo"] for c in every["currencies"]} == {funded}


def test_a_deposit_is_credited_once_however_often_it_is_delivered(tenant, funded, provider):
    event = provider.server.deposit(funded, "USDT", 1_500_000)["event"]
    [first] = provider.deliveries(1)
    response = deliver(first)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == "credited"
    assert group_balance(tenant) == 1_500_000

    provider.server.resend(event["id"])  # the provider delivers the same event again
    second = provider.deliveries(2)[1]
    again = deliver(second)
    assert again.status_code == 200
    assert again.json() == {"outcome": "duplicate", "transfer_id": response.json()["transfer_id"]}
    assert deliver(first).json()["outcome"] == "duplicate"  # the first body replayed too
    assert group_balance(tenant) == 1_500_000
    outcomes = list(
        ProviderEvent.objects.filter(event_id=event["id"]).order_by("id").values_list("outcome")
    )
    assert outcomes == [("credited",), ("duplicate",), ("duplicate",)]
    assert_consistent()
    # The fund managers (owner and admin) are told, once; the member is not.
    told = OutboxMessage.objects.filter(tenant=tenant, event="deposit.received")
    assert sorted(told.values_list("chat_id", flat=True)) == [7101, 7102]


FORGERIES = [
    ("wrong_signature", 401, "signature_invalid"),
    ("altered_body", 401, "signature_invalid"),
    ("no_signature", 401, "signature_missing"),
    ("old_timestamp", 400, "stale_timestamp"),
]


def test_a_forged_or_replayed_delivery_credits_nothing_and_is_recorded(tenant, funded, provider):
    # The event waits (no webhook URL) so only the forged deliveries arrive.
    provider.server.configure_webhook(None)
    event = provider.server.deposit(funded, "USDT", 2_000_000)["event"]
    provider.server.configure_webhook(provider.receiver.url)
    provider.server.wait_idle()
    with provider.receiver._changed:
        provider.receiver.received.clear()
    for n, (fault, status, code) in enumerate(FORGERIES, start=1):
        provider.server.forge(event["id"], fault)
        forged = provider.deliveries(n)[-1]
        response = deliver(forged)
        assert response.status_code == status, (fault, response.content)
        assert set(response.json()) == {"detail", "code"}
        assert response.json()["code"] == code
        recorded = ProviderEvent.objects.latest("id")
        assert (recorded.outcome, recorded.code) == ("refused", code)
    assert ProviderEvent.objects.count() == len(FORGERIES)
    assert group_balance(tenant) == 0
    assert not Transfer.objects.filter(kind="deposit").exists()


def _signed_event(data: dict, event_id: str = "evt_test_1") -> bytes:
    body = {"id": event_id, "type": "deposit.succeeded", "created": 0, "data": data}
    return json.dumps(body).encode()


REFUSALS = [
    ("forged_reference", 404, "unknown_group"),
    ("unbound_group", 404, "unknown_group"),
    ("other_tenant_reference", 404, "unknown_group"),
    ("unknown_currency", 400, "unknown_currency"),
    ("zero_amount", 400, "invalid_amount"),
    ("not_json", 400, "malformed_event"),
    ("no_id", 400, "malformed_event"),
    ("unknown_provider", 404, "unknown_provider"),
]


def test_a_misdirected_or_malformed_deposit_is_refused_and_recorded(
    tenant, make_tenant, funded, provider
):
    for case, status, code in REFUSALS:
        _refused(tenant, make_tenant, funded, case, status, code)
    assert ProviderEvent.objects.filter(outcome="refused").count() == len(REFUSALS)
    assert group_balance(tenant) == 0
    assert not Transfer.objects.filter(kind="deposit").exists()


def _refused(tenant, make_tenant, funded, case, status, code):
    data = {"reference": funded, "currency": "USDT", "amount": 1000}
    provider_name = "sandbox"
    if case == "forged_reference":  # a right-looking reference with a made-up mac
        data["reference"] = funded[:-32] + "0" * 32
    elif case == "unbound_group":  # a genuine reference of a group no longer bound
        data["reference"] = reference_for(tenant_id=tenant.pk, chat_id=-1002000000999)
    elif case == "other_tenant_reference":  # B's id with A's group: the mac does not fit
        connection.set_schema_to_public()  # the fixture's request left A's schema set
        other = make_tenant()
        data["reference"] = f"bb1.{other.pk}.{CHAT}.{funded.rsplit('.', 1)[1]}"
    elif case == "unknown_currency":
        data["currency"] = "EUR"
    elif case == "zero_amount":
        data["amount"] = 0
    elif case == "unknown_provider":
        provider_name = "acme"
    body = _signed_event(data)
    if case == "not_json":
        body = b"{not json"
    elif case == "no_id":
        body = json.dumps({"type": "deposit.succeeded", "data": data}).encode()
    response = post_signed(body, signature_for(body), provider=provider_name)
    assert response.status_code == status, (case, response.content)
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == code
    recorded = ProviderEvent.objects.latest("id")
    assert (recorded.outcome, recorded.code, recorded.provider) == ("refused", code, provider_name)


def test_the_same_event_id_with_other_contents_is_a_conflict(tenant, funded, provider):
    body = _signed_event({"reference": funded, "currency": "USDT", "amount": 1000})
    assert post_signed(body, signature_for(body)).json()["outcome"] == "credited"
    changed = _signed_event({"reference": funded, "currency": "USDT", "amount": 9000})
    response = post_signed(changed, signature_for(changed))
    assert (response.status_code, response.json()["code"]) == (409, "event_conflict")
    assert group_balance(tenant) == 1000


def test_instructions_are_for_fund_managers_of_the_groups_own_community(
    tenant, make_tenant, funded, bound_group, user_with_role, client_for
):
    member = client_for(tenant, user_id=7103, username="member")
    url = f"/api/v1/wallet/groups/{CHAT}/deposit-instructions?currency=USDT"
    assert member.get(url).status_code == 403
    connection.set_schema_to_public()
    other = make_tenant()
    bound_group(other, -1002000000002)
    user_with_role(other, "owner", user_id=7201, username="other_owner")
    other_owner = client_for(other, user_id=7201, username="other_owner")
    response = other_owner.get(url)  # A's group asked on B's domain by B's owner
    assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    for query, code in (("currency=DOGE", "unknown_currency"), ("colour=red", "unknown_field")):
        bad = client_for(tenant, user_id=7101, username="owner").get(
            f"/api/v1/wallet/groups/{CHAT}/deposit-instructions?{query}"
        )
        assert bad.status_code == 400 and bad.json()["code"] == code, bad.content
