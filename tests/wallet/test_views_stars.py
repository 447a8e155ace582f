"""The Stars API: a funds admin asks for a top-up invoice (sent to their private chat)
and refunds a deposit; bad input and another community's group are refused, with nothing
written."""

from __future__ import annotations

import pytest

from tests.helpers import TenantClient
from tests.wallet.helpers import balance
from wallet.models import StarsDeposit, StarsTopUp
from wallet.services import stars_precheckout_refusal


def _topups(chat_id: int) -> str:
    return f"/api/v1/wallet/groups/{chat_id}/stars/topups"


def _refund(chat_id: int, deposit_id: int) -> str:
    return f"/api/v1/wallet/groups/{chat_id}/stars/deposits/{deposit_id}/refund"


def test_a_topup_sends_the_invoice_to_the_admins_private_chat(stars_group):
    group = stars_group()
    group.tg.send_message(group.bot_id, group.admin, group.admin, "/start")
    client = TenantClient(group.tenant, user_id=group.admin, username="admin")

    answer = client.post(_topups(group.chat_id), {"amount": 30}, format="json")

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["chat_id"], body["amount"], body["currency"]) == (group.chat_id, 30, "XTR")
    assert body["invoice_chat_id"] == group.admin
    [invoice] = [m for m in group.tg.sent(group.bot_id, group.admin) if "invoice" in m]
    assert invoice["invoice"]["total_amount"] == 30
    topup = StarsTopUp.objects.get(pk=body["id"])
    assert topup.requested_by == group.admin and topup.bot_id == group.bot_id
    [pre_checkout] = group.tg.pay_invoice(
        group.bot_id, group.admin, group.admin, invoice["message_id"]
    )
    query = pre_checkout["pre_checkout_query"]
    assert (
        stars_precheckout_refusal(
            bot_id=group.bot_id,
            payload=query["invoice_payload"],
            currency=query["currency"],
            amount=query["total_amount"],
        )
        == ""
    )


@pytest.mark.parametrize(
    "body, code",
    [
        ({"amount": 0}, "amount_out_of_range"),
        ({"amount": 10_001}, "amount_out_of_range"),
        ({"amount": "ten"}, "invalid"),
        ({}, "required"),
        ({"amount": 5, "chat_id": 1}, "unknown_field"),
    ],
)
def test_a_bad_topup_is_a_400_and_writes_nothing(stars_group, body, code):
    group = stars_group()
    group.tg.send_message(group.bot_id, group.admin, group.admin, "/start")
    client = TenantClient(group.tenant, user_id=group.admin, username="admin")

    answer = client.post(_topups(group.chat_id), body, format="json")

    assert answer.status_code == 400
    assert answer.json()["detail"] and code in answer.json()["code"]
    assert not StarsTopUp.objects.exists()
    assert group.tg.sent(group.bot_id, group.admin) == []


def test_an_admin_who_never_started_the_bot_gets_a_409_and_nothing_is_kept(stars_group):
    group = stars_group()
    client = TenantClient(group.tenant, user_id=group.admin, username="admin")

    answer = client.post(_topups(group.chat_id), {"amount": 30}, format="json")

    assert answer.status_code == 409
    assert answer.json()["code"] == "bot_cannot_write"
    assert not StarsTopUp.objects.exists()


def test_refund_through_the_api_and_again(stars_group, person):
    group = stars_group()
    deposit = group.pay(person("payer"), 40)
    client = TenantClient(group.tenant, user_id=group.admin, username="admin")

    answer = client.post(_refund(group.chat_id, deposit.pk))

    assert answer.status_code == 200, answer.json()
    assert (answer.json()["status"], answer.json()["amount"]) == ("refunded", 40)
    assert balance(group.account()) == 0
    again = client.post(_refund(group.chat_id, deposit.pk))
    assert again.status_code == 409 and again.json()["code"] == "deposit_closed"


def test_another_communitys_admin_cannot_top_up_or_refund_this_group(stars_group, person):
    mine, theirs = stars_group(), stars_group()
    deposit = mine.pay(person("payer"), 40)
    theirs.tg.send_message(theirs.bot_id, theirs.admin, theirs.admin, "/start")
    intruder = TenantClient(theirs.tenant, user_id=theirs.admin, username="admin")

    topup = intruder.post(_topups(mine.chat_id), {"amount": 30}, format="json")
    refund = intruder.post(_refund(mine.chat_id, deposit.pk))
    # Its own group, with this group's deposit id.
    own_group = intruder.post(_refund(theirs.chat_id, deposit.pk))

    for answer, code in (
        (topup, "group_not_found"),
        (refund, "group_not_found"),
        (own_group, "deposit_not_found"),
    ):
        assert answer.status_code == 404, answer.json()
        assert answer.json()["code"] == code
    assert StarsTopUp.objects.filter(tenant=theirs.tenant).count() == 0
    assert StarsDeposit.objects.get(pk=deposit.pk).status == "credited"
    assert balance(mine.account()) == 40
    assert mine.tg.calls(mine.bot_id, "refundStarPayment") == []
