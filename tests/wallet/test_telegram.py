"""The wallet's bot commands and Stars payments end to end: the runtime polls the sandbox
Telegram, an admin's /topup gets an XTR invoice, a member pays it, the pre-checkout query
is answered and the successful payment credits the group once."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async

from accounts.services import membership_set_role, user_touch
from botruntime.runtime import Runtime
from notifications.models import OutboxMessage
from tenancy.services import chat_unbind
from tests.botruntime.helpers import sent, serve
from tests.wallet.helpers import assert_consistent, balance, deposit, user_account
from wallet.models import StarsDeposit, StarsTopUp, Transfer
from wallet.selectors import balances
from wallet.services.stars import stars_payload


async def _answer(tg, bot_id: int, count: int, timeout: float = 10) -> list[dict]:
    """The bot's pre-checkout answers once there are ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        calls = tg.calls(bot_id, "answerPreCheckoutQuery")
        if len(calls) >= count:
            return [call["params"] for call in calls]
        assert asyncio.get_running_loop().time() < deadline, calls
        await asyncio.sleep(0.02)


def _ok(answer: dict) -> bool:
    """The ``ok`` of an answerPreCheckoutQuery call (sent as form data: "true")."""
    return str(answer["ok"]).lower() == "true"


def _invoice(messages: list[dict]) -> dict:
    [invoice] = [m for m in messages if "invoice" in m]
    return invoice


def test_topup_invoice_payment_credits_the_group_exactly_once(stars_group, person):
    group = stars_group(name="Moon Fans")
    tg, bot_id = group.tg, group.bot_id
    payer = group.join(person("payer"))
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(bot_id, group.chat_id, group.admin, "/topup 50")
        invoice = _invoice(await sent(tg, bot_id, group.chat_id))
        tg.pay_invoice(bot_id, group.chat_id, payer, invoice["message_id"])
        [answer] = await _answer(tg, bot_id, 1)
        [thanks] = await sent(tg, bot_id, payer)
        # Telegram delivers the same payment again (another update): nothing more moves.
        [payment] = [m for m in tg.chat_messages(payer, bot_id=bot_id) if "successful_payment" in m]
        with tg.world.lock:
            tg.world.enqueue(tg.world.bot(bot_id), "message", payment)
        tg.send_message(bot_id, payer, payer, "/wallet")
        replies = await sent(tg, bot_id, payer, count=2)
        tg.send_message(bot_id, group.chat_id, group.admin, "/balance")
        board = await sent(tg, bot_id, group.chat_id, count=2)
        return invoice, answer, thanks, replies, board

    invoice, answer, thanks, replies, board = serve(runtime, scenario)

    assert invoice["invoice"]["currency"] == "XTR"
    assert invoice["invoice"]["total_amount"] == 50
    assert _ok(answer)
    assert "50 XTR reached the group's wallet" in thanks["text"]
    assert replies[1]["text"] == "Your wallet in Moon Fans:\nempty"  # no second thanks
    assert board[-1]["text"] == "This group's wallet:\n50 XTR available"
    assert balance(group.account()) == 50
    [deposit] = StarsDeposit.objects.filter(tenant=group.tenant)
    assert (deposit.chat_id, deposit.payer_id, deposit.amount) == (group.chat_id, payer, 50)
    assert deposit.topup.requested_by == group.admin
    assert Transfer.objects.filter(tenant=group.tenant, kind="deposit").count() == 1
    # The community's funds admin hears of it.
    [note] = OutboxMessage.objects.filter(tenant=group.tenant, event="deposit.received")
    assert note.chat_id == group.admin
    assert "50 XTR deposited to the wallet of Moon Group" in note.text
    assert_consistent()


def test_pre_checkout_is_declined_for_a_forged_invoice_too_much_or_an_unbound_group(
    stars_group, person, settings
):
    settings.WALLET_STARS_TOPUP_MAX = 100
    group = stars_group()
    tg, bot_id = group.tg, group.bot_id
    payer = group.join(person("payer"))
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(bot_id, group.chat_id, group.admin, "/topup 500")
        tg.send_message(bot_id, group.chat_id, payer, "/topup 10")  # not an admin
        tg.send_message(bot_id, group.chat_id, group.admin, "/topup 80")
        messages = await sent(tg, bot_id, group.chat_id, count=3)
        invoice = _invoice(messages)
        payload = await sync_to_async(lambda: stars_payload(StarsTopUp.objects.get()))()
        # Forged: the right payload with another amount, and a payload never issued.
        tg.pay_stars(bot_id, payer, payload, 81)
        await _answer(tg, bot_id, 1)
        tg.pay_stars(bot_id, payer, "topup:forged", 80)
        await _answer(tg, bot_id, 2)
        # The limit lowered after the invoice was sent.
        settings.WALLET_STARS_TOPUP_MAX = 50
        tg.pay_invoice(bot_id, group.chat_id, payer, invoice["message_id"])
        await _answer(tg, bot_id, 3)
        settings.WALLET_STARS_TOPUP_MAX = 100
        await sync_to_async(chat_unbind)(tenant=group.tenant, chat_id=group.chat_id)
        tg.pay_invoice(bot_id, group.chat_id, payer, invoice["message_id"])
        answers = await _answer(tg, bot_id, 4)
        return messages, answers

    messages, answers = serve(runtime, scenario)

    texts = [m.get("text", "") for m in messages]
    assert "Cannot top up: a top-up is 1 to 100 Stars." in texts
    assert "Only the group's admins who manage funds can do this." in texts
    assert [_ok(a) for a in answers] == [False] * 4
    assert [a["error_message"] for a in answers] == [
        "This invoice does not match its top-up.",
        "This invoice is not valid.",
        "A top-up is 1 to 50 Stars.",
        "This group is not connected to the community (any more).",
    ]
    assert not StarsDeposit.objects.exists()
    assert tg.star_balance(bot_id) == 0


def test_wallet_in_private_shows_the_users_own_balances(stars_group, person):
    group = stars_group(name="Moon Fans")
    tg, bot_id = group.tg, group.bot_id
    alice = person("alice")
    deposit(group.tenant, user_account(group.tenant, alice, "XTR"), 7)
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(bot_id, alice, alice, "/wallet")
        return await sent(tg, bot_id, alice)

    [reply] = serve(runtime, scenario)
    assert reply["text"] == "Your wallet in Moon Fans:\n7 XTR available"
    assert balances(tenant=group.tenant, owner_kind="user", owner_id=alice) == {
        "XTR": {"available": 7}
    }


def test_topup_needs_manage_funds_here_and_admin_rights_telegram_confirms(stars_group, person):
    group = stars_group()
    other = stars_group()
    tg, bot_id = group.tg, group.bot_id
    # Administers this group on Telegram, but manages funds of another community only.
    group.join(other.admin, "administrator")
    # An admin of this community by role, a plain member of this chat on Telegram.
    member = group.join(person("member"))
    user = user_touch(profile={"id": member, "first_name": "M"})
    membership_set_role(tenant=group.tenant, user=user, role="admin")
    runtime = Runtime(jobs=False, poll_timeout=1)

    async def scenario():
        tg.send_message(bot_id, group.chat_id, other.admin, "/topup 5")
        tg.send_message(bot_id, group.chat_id, member, "/topup 5")
        return await sent(tg, bot_id, group.chat_id, count=2)

    replies = serve(runtime, scenario)

    assert [r["text"] for r in replies] == [
        "Only the group's admins who manage funds can do this."
    ] * 2
    assert not StarsTopUp.objects.exists()
    assert [c["params"]["user_id"] for c in tg.calls(bot_id, "getChatMember")][-1:] == [str(member)]
