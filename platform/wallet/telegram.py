"""What the wallet contributes to the bot runtime: ``/topup AMOUNT`` (a group's funds
admin asks for a Stars invoice for the group), ``/balance`` (the group's balances, for
its funds admins), ``/wallet`` (a user's own balances, in private), and the two steps of
a Stars payment: the pre-checkout query (answered after ``stars_precheckout_refusal``)
and the successful payment (``stars_payment_credit``, once per charge id).

Who may manage funds is the tenant's ``manage_funds`` capability, and Telegram confirms
(getChatMember) that the sender administers the group right now. A payment is matched by
its invoice payload to the top-up row and by the receiving bot, never to what the
update says about the group or the payer.
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from telegram import BotCommand, Chat, ChatMember, LabeledPrice, Update
from telegram import error as tg_error
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from botruntime.context import tenant_of
from config.errors import ServiceError
from config.numbers import whole_number
from history.services import Actor
from tenancy.models import Tenant
from tenancy.selectors import chat_tenant_for_bot
from wallet.currencies import amount_format
from wallet.selectors import balances, can_manage_funds
from wallet.services import stars_payment_credit, stars_precheckout_refusal, stars_topup_create
from wallet.services.stars import STARS, invoice_texts, stars_payload

logger = logging.getLogger(__name__)

GROUP_CHATS = (Chat.GROUP, Chat.SUPERGROUP)
TOPUP_USAGE = "Use /topup AMOUNT in the group to top up its wallet with Stars, e.g. /topup 500."
NOT_ADMIN = "Only the group's admins who manage funds can do this."


def commands() -> list[BotCommand]:
    return [
        BotCommand("topup", "Top up this group's wallet with Stars (admins)"),
        BotCommand("balance", "This group's wallet balances (admins)"),
        BotCommand("wallet", "Your wallet balances"),
    ]


async def _funds_admin_group(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Tenant, int] | None:
    """(tenant, chat id) when the update is in a group this bot serves for a community and
    its sender may manage funds there (capability, and an admin per Telegram); else the
    sender is told why (or nothing, outside a community)."""
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None or chat.type not in GROUP_CHATS:
        return None
    tenant = await tenant_of(update, context)
    if tenant is None or tenant.is_public:
        return None
    bound = await sync_to_async(chat_tenant_for_bot)(chat_id=chat.id, bot_id=context.bot.id)
    if bound is None or bound.pk != tenant.pk:
        await message.reply_text("This group is not connected to a community.")
        return None
    allowed = await sync_to_async(can_manage_funds)(tenant=tenant, telegram_id=sender.id)
    if allowed:
        try:
            member = await context.bot.get_chat_member(chat.id, sender.id)
        except tg_error.TelegramError as exc:
            logger.warning(
                "wallet.telegram.admin_check_failed", extra={"chat_id": chat.id, "error": str(exc)}
            )
            await message.reply_text("Telegram could not confirm your admin rights; try again.")
            return None
        allowed = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
    if not allowed:
        await message.reply_text(NOT_ADMIN)
        return None
    return tenant, chat.id


async def on_topup(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    args = context.args or []
    amount = whole_number(args[0]) if len(args) == 1 else None
    if chat.type not in GROUP_CHATS or amount is None:
        await message.reply_text(TOPUP_USAGE)
        return
    found = await _funds_admin_group(update, context)
    if found is None:
        return
    tenant, chat_id = found
    try:
        topup = await sync_to_async(stars_topup_create)(
            tenant=tenant,
            chat_id=chat_id,
            requested_by=sender.id,
            amount=amount,
            bot_id=context.bot.id,
            invoice_chat_id=chat_id,
            actor=Actor.user(sender.id),
        )
    except ServiceError as exc:
        await message.reply_text(f"Cannot top up: {exc.message}.")
        return
    title, description = invoice_texts(title=chat.title or "", amount=amount)
    # In the group, as the reply to the admin's command: whoever pays it funds the group.
    await context.bot.send_invoice(
        chat_id=chat_id,
        title=title,
        description=description,
        payload=stars_payload(topup),
        currency=STARS,
        prices=[LabeledPrice("Stars", amount)],
        reply_to_message_id=message.message_id,
    )


def _balance_lines(found: dict[str, dict[str, int]]) -> list[str]:
    lines = []
    for currency in sorted(found):
        kinds = found[currency]
        line = f"{amount_format(kinds.get('available', 0), currency)} available"
        if kinds.get("escrow"):
            line += f", {amount_format(kinds['escrow'], currency)} held for raids"
        lines.append(line)
    return lines


async def on_balance(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    found = await _funds_admin_group(update, context)
    if found is None:
        if update.effective_chat is not None and update.effective_chat.type == Chat.PRIVATE:
            await message.reply_text("Use /balance in a group; /wallet shows your own.")
        return
    tenant, chat_id = found
    lines = _balance_lines(
        await sync_to_async(balances)(tenant=tenant, owner_kind="group", owner_id=chat_id)
    )
    await message.reply_text("\n".join(["This group's wallet:", *(lines or ["empty"])]))


async def on_wallet(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type != Chat.PRIVATE:
        await message.reply_text("Send /wallet to me in private.")
        return
    tenant = await tenant_of(update, context)
    if tenant is None:
        return
    if tenant.is_public:
        await message.reply_text("Open your community's bot to see your wallet there.")
        return
    lines = _balance_lines(
        await sync_to_async(balances)(tenant=tenant, owner_kind="user", owner_id=sender.id)
    )
    await message.reply_text("\n".join([f"Your wallet in {tenant.name}:", *(lines or ["empty"])]))


async def on_pre_checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.pre_checkout_query
    if query is None:
        return
    refusal = await sync_to_async(stars_precheckout_refusal)(
        bot_id=context.bot.id,
        payload=query.invoice_payload,
        currency=query.currency,
        amount=query.total_amount,
    )
    if refusal:
        logger.info(
            "wallet.stars_precheckout_declined",
            extra={"bot_id": context.bot.id, "user_id": query.from_user.id, "reason": refusal},
        )
        await query.answer(ok=False, error_message=refusal)
        return
    await query.answer(ok=True)


async def on_successful_payment(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    payment = message.successful_payment if message is not None else None
    if message is None or payment is None or message.from_user is None:
        return
    deposit = await sync_to_async(stars_payment_credit)(
        bot_id=context.bot.id,
        payload=payment.invoice_payload,
        currency=payment.currency,
        amount=payment.total_amount,
        charge_id=payment.telegram_payment_charge_id,
        payer_id=message.from_user.id,
        actor=Actor.user(message.from_user.id),
    )
    if deposit is not None and not deposit.replayed:
        await message.reply_text(
            f"Thank you! {amount_format(deposit.amount, STARS)} reached the group's wallet."
        )


def handlers() -> list[BaseHandler]:
    return [
        CommandHandler("topup", on_topup),
        CommandHandler("balance", on_balance),
        CommandHandler("wallet", on_wallet),
        PreCheckoutQueryHandler(on_pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, on_successful_payment),
    ]
