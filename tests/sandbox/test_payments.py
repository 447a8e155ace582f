"""Telegram Stars: an XTR invoice, the user paying, the bot's pre-checkout answer within
10 seconds, the successful_payment message, and refunds."""

from __future__ import annotations

import pytest

from tests.sandbox.helpers import ALICE, BOT_ID, TOKEN, error, result

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
