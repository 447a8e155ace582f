"""The welcome check in a group: a join (``new_chat_members`` message or ``chat_member``
update) starts it (restrict the member, post the welcome with its button), the member's
press passes it, a leave ends it. The services are in ``community.services.captcha``."""

from __future__ import annotations

import logging

from telegram import ChatPermissions, InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram import error as tg_error
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from community.group_config import GroupConfig
from community.handlers.common import group_of, is_present, user_name
from community.services import captcha
from community.texts import BUTTON_TEXT
from tenancy.models import Tenant

logger = logging.getLogger(__name__)


async def _welcome(
    context: ContextTypes.DEFAULT_TYPE,
    tenant: Tenant,
    config: GroupConfig,
    user: User,
    added_by: User | None,
) -> None:
    if user.is_bot:
        return
    added_by_admin = (
        added_by is not None and added_by.id != user.id and added_by.id in config.admin_ids
    )
    welcome = await in_tenant(
        tenant,
        captcha.captcha_start,
        tenant=tenant,
        config=config,
        user_id=user.id,
        user_name=user_name(user),
        bot_id=context.bot.id,
        added_by_admin=added_by_admin,
    )
    if welcome is None:
        return
    bot, chat_id = context.bot, config.chat_id
    markup = None
    if welcome.captcha_id is not None:
        try:
            await bot.restrict_chat_member(chat_id, user.id, ChatPermissions.no_permissions())
        except tg_error.TelegramError as exc:
            # Without the right to restrict, the check still runs (and the removal at the
            # deadline will tell the admins through the audit trail).
            logger.warning(
                "community.captcha.restrict_failed",
                extra={"tenant": tenant.slug, "chat_id": chat_id, "detail": str(exc)},
            )
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton(BUTTON_TEXT, callback_data=welcome.callback_data)]]
        )
    try:
        sent = await bot.send_message(
            chat_id, welcome.text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except tg_error.TelegramError as exc:
        logger.warning(
            "community.captcha.welcome_failed",
            extra={"tenant": tenant.slug, "chat_id": chat_id, "detail": str(exc)},
        )
        return
    if welcome.captcha_id is not None:
        await in_tenant(
            tenant,
            captcha.captcha_message_set,
            tenant=tenant,
            captcha_id=welcome.captcha_id,
            message_id=sent.message_id,
        )


async def on_new_members(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None or not message.new_chat_members:
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return
    for user in message.new_chat_members:
        await _welcome(context, tenant, config, user, message.from_user)


async def on_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.chat_member
    if change is None:
        return
    was, now = is_present(change.old_chat_member), is_present(change.new_chat_member)
    if was == now:  # restricted, unrestricted, promoted: not a join or a leave
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return
    user = change.new_chat_member.user
    if now:
        await _welcome(context, tenant, config, user, change.from_user)
    else:
        await in_tenant(
            tenant, captcha.captcha_member_left, tenant=tenant, config=config, user_id=user.id
        )


async def on_captcha_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    target = int(query.data.removeprefix(captcha.CALLBACK_PREFIX))
    if query.from_user.id != target:
        await query.answer("This button is for the new member only.", show_alert=True)
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        await query.answer()
        return
    result = await in_tenant(
        tenant, captcha.captcha_pass, tenant=tenant, config=config, user_id=target
    )
    if result.outcome == "expired":
        await query.answer("Too late: this check has expired.", show_alert=True)
        return
    if result.outcome == "none":
        await query.answer()
        return
    if result.outcome == "already_passed":
        # Never lift again here: the member may have been muted since (by moderation or
        # an admin), and an old button must not undo that.
        await query.answer("You are already verified.")
        return
    try:
        await context.bot.restrict_chat_member(
            config.chat_id, target, ChatPermissions.all_permissions()
        )
    except tg_error.TelegramError as exc:
        logger.warning(
            "community.captcha.unrestrict_failed",
            extra={"tenant": tenant.slug, "chat_id": config.chat_id, "detail": str(exc)},
        )
        await query.answer("Verified, but the bot could not lift the restriction; ask an admin.")
        return
    await query.answer("Welcome! You can write in the group now.")
    if query.message is not None:
        try:
            await context.bot.edit_message_reply_markup(
                config.chat_id, query.message.message_id, reply_markup=None
            )
        except tg_error.TelegramError as exc:
            logger.info(
                "community.captcha.button_not_removed",
                extra={"chat_id": config.chat_id, "detail": str(exc)},
            )
