"""Binding a group: the bot's own membership changes (MY_CHAT_MEMBER: added → bind the
group to the bot's tenant, removed → unbind it) and ``/bind CODE`` with a link code from
the Mini App. Services run through ``in_tenant`` (sync_to_async inside the tenant's
schema), never on the event loop."""

from __future__ import annotations

import logging

from telegram import ChatMemberUpdated, Update
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from community import services
from community.handlers.common import GROUP_CHATS, community_of, is_present
from config.errors import ServiceError

logger = logging.getLogger(__name__)


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None or change.chat.type not in GROUP_CHATS:
        return
    was, now = is_present(change.old_chat_member), is_present(change.new_chat_member)
    if was == now:  # e.g. promoted to admin: no binding change
        return
    tenant = await community_of(update, context, log=True)
    if tenant is None:
        return
    chat = change.chat
    try:
        if now:
            await in_tenant(
                tenant,
                services.group_bind_on_bot_added,
                tenant=tenant,
                bot_id=context.bot.id,
                chat_id=chat.id,
                title=chat.title or "",
                added_by_telegram_id=change.from_user.id,
            )
        else:
            await in_tenant(
                tenant,
                services.group_unbind_on_bot_removed,
                tenant=tenant,
                bot_id=context.bot.id,
                chat_id=chat.id,
                removed_by_telegram_id=change.from_user.id,
            )
    except ServiceError as exc:
        # Nobody to answer here: the refusal is logged; admins bind with a code instead.
        logger.warning(
            "community.telegram.membership_refused",
            extra={"tenant": tenant.slug, "chat_id": chat.id, "code": exc.code, "added": now},
        )


BIND_USAGE = (
    "Send /bind followed by the code from the Mini App, in the group you want to "
    "connect, e.g. /bind ABCD2345."
)


async def on_bind(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type not in GROUP_CHATS:
        await message.reply_text(BIND_USAGE)
        return
    args = context.args or []
    if len(args) != 1:
        await message.reply_text(BIND_USAGE)
        return
    tenant = await community_of(update, context, log=True)
    if tenant is None:
        return
    try:
        result = await in_tenant(
            tenant,
            services.group_bind_with_code,
            tenant=tenant,
            code=args[0],
            chat_id=chat.id,
            title=chat.title or "",
            from_telegram_id=sender.id,
            bot_id=context.bot.id,
        )
    except ServiceError as exc:
        await message.reply_text(f"Could not connect this group: {exc.message}")
        return
    synced = len(result.admins.added) + len(result.admins.unchanged)
    state = "is now" if result.newly_bound else "was already"
    text = f"This group {state} connected to {tenant.name}. Admins synced: {synced}."
    await message.reply_text(text)
