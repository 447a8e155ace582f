"""Telegram Stars: an XTR invoice, the user paying, the bot's pre-checkout answer within
10 seconds, the successful_payment message, refunds (the bot's, or its owner's from outside
the platform), and the bot's Star transactions and balance."""

from __future__ import annotations

import pytest

from sandbox.telegram import SandboxError
from tests.sandbox.helpers import ALICE, BOT_ID, TOKEN, error, http, result

INVOICE = {
    "chat_id": ALICE,
    "title": "Raid boost",
    "description": "Boost your raid for a day",
    "payload": "boost:42",
    "currency": "XTR",
    "prices": [{"label": "Boost", "amount": 250}],
}


@pytest.fixture
def shop(limited):
    """The sandbox on a manual clock (the 10-second answer window), Alice started the bot."""
    limited.add_bot(TOKEN, username="loop_bot")
    limited.add_user(ALICE, "Alice")
    limited.send_message(BOT_ID, ALICE, ALICE, "/start")
    result(limited, "getUpdates", {"offset": -1})
    return limited


def _pre_checkout(shop) -> dict:
    message = result(shop, "sendInvoice", INVOICE)
    [update] = shop.pay_invoice(BOT_ID, ALICE, ALICE, message["message_id"])
    return update["pre_checkout_query"]


def test_paying_an_invoice_sends_the_payment_to_the_bot(shop):
    message = result(shop, "sendInvoice", INVOICE)
    assert message["invoice"] == {
        "title": "Raid boost",
        "description": "Boost your raid for a day",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 250,
    }

    [update] = shop.pay_invoice(BOT_ID, ALICE, ALICE, message["message_id"])
    query = update["pre_checkout_query"]
    assert (query["currency"], query["total_amount"], query["invoice_payload"]) == (
        "XTR",
        250,
        "boost:42",
    )
    assert shop.star_balance(BOT_ID) == 0  # nothing is paid before the bot agrees

    assert result(
        shop, "answerPreCheckoutQuery", {"pre_checkout_query_id": query["id"], "ok": True}
    )

    updates = result(shop, "getUpdates", {"offset": update["update_id"] + 1})
    payment = updates[-1]["message"]["successful_payment"]
    assert payment["total_amount"] == 250 and payment["invoice_payload"] == "boost:42"
    assert payment["telegram_payment_charge_id"]
    assert updates[-1]["message"]["from"]["id"] == ALICE
    assert shop.star_balance(BOT_ID) == 250


def test_a_declined_checkout_pays_nothing_and_needs_a_reason(shop):
    query = _pre_checkout(shop)
    params = {"pre_checkout_query_id": query["id"], "ok": False}

    assert error(shop, "answerPreCheckoutQuery", params) == (
        400,
        "Bad Request: ERROR_MESSAGE_EMPTY",
    )
    assert result(shop, "answerPreCheckoutQuery", {**params, "error_message": "Sold out"})

    assert not any("successful_payment" in m for m in shop.chat_messages(ALICE, bot_id=BOT_ID))
    assert shop.star_balance(BOT_ID) == 0


def test_a_checkout_answered_after_ten_seconds_is_too_old(shop, clock):
    query = _pre_checkout(shop)
    clock.advance(10.5)

    assert error(
        shop, "answerPreCheckoutQuery", {"pre_checkout_query_id": query["id"], "ok": True}
    ) == (400, "Bad Request: query is too old and response timeout expired or query ID is invalid")


def test_a_refund_returns_the_stars_once(shop):
    query = _pre_checkout(shop)
    result(shop, "answerPreCheckoutQuery", {"pre_checkout_query_id": query["id"], "ok": True})
    [charge] = [
        m["successful_payment"]["telegram_payment_charge_id"]
        for m in shop.chat_messages(ALICE, bot_id=BOT_ID)
        if "successful_payment" in m
    ]
    refund = {"user_id": ALICE, "telegram_payment_charge_id": charge}

    assert result(shop, "refundStarPayment", refund) is True
    assert error(shop, "refundStarPayment", refund) == (400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    assert error(
        shop, "refundStarPayment", {**refund, "telegram_payment_charge_id": "stxnope"}
    ) == (
        400,
        "Bad Request: CHARGE_NOT_FOUND",
    )
    assert shop.star_balance(BOT_ID) == 0
    last = shop.chat_messages(ALICE, bot_id=BOT_ID)[-1]
    assert last["refunded_payment"]["telegram_payment_charge_id"] == charge


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"currency": "USD"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        ({"provider_token": "tok"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 1}, {"label": "b", "amount": 2}]},
            "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID",
        ),
        ({"prices": [{"label": "a", "amount": 0}]}, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"payload": "x" * 129}, "Bad Request: INVOICE_PAYLOAD_INVALID"),
    ],
)
def test_invoices_telegram_refuses(shop, change, description):
    assert error(shop, "sendInvoice", {**INVOICE, **change}) == (400, description)


def _paid(shop, payload: str = "boost:42", amount: int = 250) -> str:
    """Alice pays, the bot agrees; returns the charge id."""
    [update] = shop.pay_stars(BOT_ID, ALICE, payload, amount)
    query_id = update["pre_checkout_query"]["id"]
    result(shop, "answerPreCheckoutQuery", {"pre_checkout_query_id": query_id, "ok": True})
    return shop.chat_messages(ALICE, bot_id=BOT_ID)[-1]["successful_payment"][
        "telegram_payment_charge_id"
    ]


def test_payments_and_refunds_are_star_transactions_newest_first(shop):
    first = _paid(shop, "boost:1", 100)
    second = _paid(shop, "boost:2", 30)
    result(shop, "refundStarPayment", {"user_id": ALICE, "telegram_payment_charge_id": first})

    transactions = result(shop, "getStarTransactions")["transactions"]

    alice = {"id": ALICE, "is_bot": False, "first_name": "Alice"}
    assert [{k: v for k, v in t.items() if k != "date"} for t in transactions] == [
        {
            "id": first,  # a refund keeps its payment's id
            "amount": 100,
            "receiver": {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": alice,
                "invoice_payload": "boost:1",
            },
        },
        {
            "id": second,
            "amount": 30,
            "source": {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": alice,
                "invoice_payload": "boost:2",
            },
        },
        {
            "id": first,
            "amount": 100,
            "source": {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": alice,
                "invoice_payload": "boost:1",
            },
        },
    ]
    assert all(isinstance(t["date"], int) for t in transactions)
    assert result(shop, "getMyStarBalance") == {"amount": 30}


def test_a_declined_checkout_is_no_transaction(shop):
    query = _pre_checkout(shop)
    result(
        shop,
        "answerPreCheckoutQuery",
        {"pre_checkout_query_id": query["id"], "ok": False, "error_message": "Sold out"},
    )

    assert result(shop, "getStarTransactions") == {"transactions": []}


def test_star_transactions_page_by_offset_and_limit(shop):
    charges = [_paid(shop, f"p{n}", n + 1) for n in range(5)]
    newest_first = charges[::-1]

    def ids(params):
        return [t["id"] for t in result(shop, "getStarTransactions", params)["transactions"]]

    assert ids({"offset": 1, "limit": 2}) == newest_first[1:3]
    assert ids({"offset": 4}) == newest_first[4:]
    assert ids({"offset": 5}) == []
    # Out-of-range values are clamped, not refused: limit to 1..100, offset to 0 and up.
    assert ids({"limit": 0}) == newest_first[:1]
    assert ids({"limit": 500, "offset": -3}) == newest_first
    assert error(shop, "getStarTransactions", {"limit": "many"}) == (
        400,
        'Bad Request: field "limit" must be of type Integer',
    )


def test_the_owner_can_refund_outside_the_platform(shop):
    charge = _paid(shop)

    shop.refund_star_payment(BOT_ID, ALICE, charge)

    [refund, payment] = result(shop, "getStarTransactions")["transactions"]
    assert (refund["id"], refund["receiver"]["user"]["id"]) == (charge, ALICE)
    assert "source" in payment and shop.star_balance(BOT_ID) == 0
    # It is the bot's own call, as a script holding the token would make it.
    [logged] = shop.calls(BOT_ID, "refundStarPayment")
    assert logged["params"] == {"user_id": ALICE, "telegram_payment_charge_id": charge}
    assert "refunded_payment" in shop.chat_messages(ALICE, bot_id=BOT_ID)[-1]
    with pytest.raises(SandboxError) as refused:
        shop.refund_star_payment(BOT_ID, ALICE, charge)
    assert (refused.value.status, refused.value.detail) == (
        400,
        "Bad Request: CHARGE_ALREADY_REFUNDED",
    )


def test_the_control_api_refunds_and_shows_the_bots_stars(shop):
    charge = _paid(shop, amount=40)
    api = f"{shop.base_url}/sandbox/api/bots/{BOT_ID}"

    refunded = http().post(
        f"{api}/refunds", json={"user_id": ALICE, "telegram_payment_charge_id": charge}
    )
    again = http().post(
        f"{api}/refunds", json={"user_id": ALICE, "telegram_payment_charge_id": charge}
    )
    stars = http().get(f"{api}/stars").json()

    assert refunded.status_code == 200
    assert (again.status_code, again.json()["code"]) == (400, "refused")
    assert stars["balance"] == 0
    assert [("receiver" in t, t["id"]) for t in stars["transactions"]] == [
        (True, charge),
        (False, charge),
    ]
