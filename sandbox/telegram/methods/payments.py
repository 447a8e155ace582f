"""Telegram Stars payments: sendInvoice (currency XTR), answerPreCheckoutQuery,
refundStarPayment, getStarTransactions, getMyStarBalance. A user pays through the control
side (``pay_stars``); the bot answers the pre-checkout query, then gets the
successful_payment message. Every payment and refund is a StarTransaction of the bot's."""

from __future__ import annotations

import copy
import secrets

from sandbox.telegram.errors import QUERY_TOO_OLD, bad_request, required
from sandbox.telegram.methods.messages import inline_markup, send
from sandbox.telegram.methods.registry import Call, method
from sandbox.telegram.objects import JSONDict
from sandbox.telegram.world import World

STARS = "XTR"
# Telegram gives a bot 10 seconds to answer a pre-checkout query.
PRE_CHECKOUT_SECONDS = 10


@method("sendInvoice")
def send_invoice(call: Call) -> JSONDict:
    params = call.params
    title = params.require_str("title")
    description = params.require_str("description")
    payload = params.require_str("payload")
    currency = params.require_str("currency")
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_INVALID")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_INVALID")
    if not 1 <= len(payload.encode("utf-8")) <= 128:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if currency != STARS or params.str("provider_token"):
        # The sandbox has no payment providers: only Stars, which take no provider token.
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    prices = params.json("prices")
    if prices is None:
        raise required("prices")
    if (
        not isinstance(prices, list)
        or len(prices) != 1
        or not isinstance(prices[0], dict)
        or not isinstance(prices[0].get("amount"), int)
        or prices[0]["amount"] <= 0
    ):
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")  # Stars take exactly one price
    markup = params.json("reply_markup")
    if markup is not None:
        keyboard = inline_markup(markup)
        first = (keyboard or {}).get("inline_keyboard", [[{}]])[0][0]
        if "pay" not in first:
            raise bad_request("first button of the inline keyboard must be a pay button")
    invoice = {
        "title": title,
        "description": description,
        "start_parameter": params.str("start_parameter") or "",
        "currency": currency,
        "total_amount": prices[0]["amount"],
    }
    message = send(call, invoice=invoice)
    call.world.invoices[(call.bot.id, message["chat"]["id"], message["message_id"])] = payload
    return message


@method("answerPreCheckoutQuery")
def answer_pre_checkout_query(call: Call) -> bool:
    world, params = call.world, call.params
    query_id = params.require_str("pre_checkout_query_id")
    if "ok" not in params.values:
        raise required("ok")
    query = world.pre_checkouts.get(query_id)
    if (
        query is None
        or query["bot_id"] != call.bot.id
        or query["state"] != "pending"
        or call.flood.clock() - query["created"] > PRE_CHECKOUT_SECONDS
    ):
        raise bad_request(QUERY_TOO_OLD)
    if not params.bool("ok"):
        error = params.str("error_message")
        if not error:
            raise bad_request("ERROR_MESSAGE_EMPTY")
        query["state"], query["error_message"] = "declined", error
        return True
    query["state"] = "paid"
    charge_id = f"stxsandbox{secrets.token_hex(12)}"
    payment = {
        "currency": STARS,
        "total_amount": query["amount"],
        "invoice_payload": query["payload"],
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": "",
    }
    world.charges[charge_id] = {**payment, "bot_id": call.bot.id, "user_id": query["user_id"]}
    call.bot.star_balance += query["amount"]
    call.bot.star_transactions.append(
        {
            "id": charge_id,  # Telegram: the payment's telegram_payment_charge_id
            "amount": query["amount"],
            "date": world.now(),
            "source": _user_partner(world, query["user_id"], query["payload"]),
        }
    )
    chat = world.private(call.bot.id, query["user_id"], create=True)
    message = world.store(chat, world.users[query["user_id"]], successful_payment=payment)
    world.deliver(chat, message)
    return True


@method("refundStarPayment")
def refund_star_payment(call: Call) -> bool:
    world, params = call.world, call.params
    user_id = params.user_id()
    charge_id = params.require_str("telegram_payment_charge_id")
    charge = world.charges.get(charge_id)
    if charge is None or charge["bot_id"] != call.bot.id or charge["user_id"] != user_id:
        raise bad_request("CHARGE_NOT_FOUND")
    if charge.get("refunded"):
        raise bad_request("CHARGE_ALREADY_REFUNDED")
    charge["refunded"] = True
    call.bot.star_balance -= charge["total_amount"]
    call.bot.star_transactions.append(
        {
            "id": charge_id,  # Telegram: a refund keeps the id of the payment it returns
            "amount": charge["total_amount"],
            "date": world.now(),
            "receiver": _user_partner(world, user_id, charge["invoice_payload"]),
        }
    )
    refund = {
        "currency": STARS,
        "total_amount": charge["total_amount"],
        "invoice_payload": charge["invoice_payload"],
        "telegram_payment_charge_id": charge_id,
    }
    chat = world.private(call.bot.id, user_id, create=True)
    message = world.store(chat, world.users[user_id], refunded_payment=refund)
    world.deliver(chat, message)
    return True


@method("getStarTransactions")
def get_star_transactions(call: Call) -> JSONDict:
    """The bot's transactions, newest first as Telegram answers them (its Bot API page
    says "chronological order"). ``offset`` skips that many; ``limit`` (default 100) is
    clamped to 1..100 like getUpdates' rather than refused."""
    offset = max(call.params.int("offset") or 0, 0)
    asked = call.params.int("limit")
    limit = 100 if asked is None else min(max(asked, 1), 100)
    newest_first = call.bot.star_transactions[::-1]
    return {"transactions": copy.deepcopy(newest_first[offset : offset + limit])}


@method("getMyStarBalance")
def get_my_star_balance(call: Call) -> JSONDict:
    return {"amount": call.bot.star_balance}


def _user_partner(world: World, user_id: int, payload: str) -> JSONDict:
    """A TransactionPartnerUser for an invoice payment (or its refund) by the user."""
    return {
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": copy.deepcopy(world.users[user_id]),
        "invoice_payload": payload,
    }
