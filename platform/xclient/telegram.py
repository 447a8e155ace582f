"""What the X client contributes to the bot runtime: linking the user's X account from a
private chat with any community's bot. ``/linkx`` answers a button to X's consent page,
``/linkx @handle`` a one-time code to post from that account, ``/verifyx`` checks it,
``/unlinkx`` unlinks, ``/myx`` shows the link. An update comes from Telegram (the
webhook's secret is not the bot token's), so these act on Telegram's word."""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.urls import reverse
from telegram import BotCommand, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CommandHandler, ContextTypes, filters

from accounts.models import TelegramUser
from accounts.services import user_touch
from botruntime.context import tenant_of
from config.errors import ServiceError
from tenancy.models import Tenant
from xclient.links import (
    CODE_TTL,
    link_code_start,
    link_code_verify,
    link_oauth_start,
    link_remove,
)
from xclient.models import XLink
from xclient.selectors import link_active, link_code_pending

logger = logging.getLogger(__name__)
PRIVATE_ONLY = "Send me this in a private chat: your X account is yours alone."


def commands() -> list[BotCommand]:
    return [
        BotCommand("linkx", "Link your X account (/linkx @handle: by a posted code)"),
        BotCommand("verifyx", "Check the code you posted on X"),
        BotCommand("myx", "Your linked X account"),
        BotCommand("unlinkx", "Unlink your X account"),
    ]


def bot_redirect_uri() -> str:
    """Where X sends back people who started from a bot (no request to take a host
    from): ``X_OAUTH_REDIRECT_URI``, or https on the platform's own domain."""
    if settings.X_OAUTH_REDIRECT_URI:
        return str(settings.X_OAUTH_REDIRECT_URI)
    return f"https://{settings.PUBLIC_DOMAIN}{reverse('x-connect-callback')}"


def link_text(link: XLink | None) -> str:
    if link is None:
        return "No X account is linked. Send /linkx to link one."
    age = f", on X since {link.x_created_at:%Y-%m-%d}" if link.x_created_at else ""
    return (
        f"Linked: @{link.username} (X id {link.x_user_id}), {link.followers} followers"
        f"{age}; linked {link.linked_at:%Y-%m-%d} by {link.get_via_display()}."
    )


async def _who(update: Update, context: ContextTypes.DEFAULT_TYPE):
    """(tenant, user) of a private chat's command, or None (replied to when useful)."""
    message, sender = update.effective_message, update.effective_user
    if message is None or sender is None or sender.is_bot:
        return None
    tenant: Tenant | None = await tenant_of(update, context)
    if tenant is None:
        return None  # nobody's bot, or a suspended community: stay silent
    if update.effective_chat is None or update.effective_chat.type != Chat.PRIVATE:
        await message.reply_text(PRIVATE_ONLY)
        return None
    user: TelegramUser = await sync_to_async(user_touch)(profile=sender.to_dict())
    return tenant, user


async def on_linkx(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    who = await _who(update, context)
    if who is None or update.effective_message is None:
        return
    (tenant, user), message = who, update.effective_message
    try:
        if context.args:
            pending = await sync_to_async(link_code_start)(
                user=user, tenant=tenant, username=context.args[0], confirmed=True
            )
            minutes = int(CODE_TTL.total_seconds() // 60)
            await message.reply_text(
                f"Post this from @{pending.username} on X within {minutes} minutes:\n\n"
                f"{pending.code}\n\nthen send /verifyx."
            )
            return
        url = await sync_to_async(link_oauth_start)(
            user=user, tenant=tenant, redirect_uri=bot_redirect_uri(), confirmed=True
        )
    except ServiceError as exc:
        await message.reply_text(exc.message)
        return
    button = InlineKeyboardMarkup([[InlineKeyboardButton("Link on X", url=url)]])
    await message.reply_text(
        "Open the link and approve on X (it works once, for ten minutes). No X login at "
        "hand? Send /linkx @yourhandle to link by posting a code instead.",
        reply_markup=button,
    )


async def on_verifyx(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    who = await _who(update, context)
    if who is None or update.effective_message is None:
        return
    (_, user), message = who, update.effective_message
    try:
        link = await sync_to_async(link_code_verify)(user=user)
    except ServiceError as exc:
        await message.reply_text(exc.message)
        return
    await message.reply_text(link_text(link))


async def on_unlinkx(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    who = await _who(update, context)
    if who is None or update.effective_message is None:
        return
    (_, user), message = who, update.effective_message
    try:
        link = await sync_to_async(link_remove)(user=user, confirmed=True)
    except ServiceError as exc:
        await message.reply_text(exc.message)
        return
    await message.reply_text(f"@{link.username} is unlinked.")


async def on_myx(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    who = await _who(update, context)
    if who is None or update.effective_message is None:
        return
    (_, user), message = who, update.effective_message
    link = await sync_to_async(link_active)(user=user)
    text = link_text(link)
    pending = await sync_to_async(link_code_pending)(user=user)
    if link is None and pending is not None:
        text += f"\nWaiting for {pending.code} from @{pending.username}: then /verifyx."
    await message.reply_text(text)


def handlers() -> list[BaseHandler]:
    messages = filters.UpdateType.MESSAGE  # an edited command is not run again
    return [
        CommandHandler("linkx", on_linkx, filters=messages),
        CommandHandler("verifyx", on_verifyx, filters=messages),
        CommandHandler("unlinkx", on_unlinkx, filters=messages),
        CommandHandler("myx", on_myx, filters=messages),
    ]
