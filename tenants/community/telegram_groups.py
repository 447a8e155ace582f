"""python-telegram-bot handlers for life inside a bound group: the welcome check,
message ingestion (leaderboards + moderation) and ``/leaderboard``.

The message handler is the hot path (every group message of every tenant). Per message
it costs: the tenant and the group's config from in-process caches, the moderation
checks in memory, and one SQL statement (the leaderboard upsert). Only a message that
breaks a rule, a cache miss, or a join costs more. Sync services run through
``sync_to_async`` (never on the event loop), inside the tenant's schema.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import sync_to_async
from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from telegram import error as tg_error
from telegram.constants import ParseMode
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from botruntime.context import in_tenant, tenant_of
from community import captcha, leaderboard, moderation
from community.group_config import MISS, GroupConfig, group_config, group_config_cached
from community.rules import MessageFacts
from config.errors import ServiceError

logger = logging.getLogger(__name__)

GROUP_CHATS = (Chat.GROUP, Chat.SUPERGROUP)
# Telegram posts for anonymous admins as this bot, and linked-channel forwards as 777000.
GROUP_ANONYMOUS_BOT_ID = 1087968824
TELEGRAM_SERVICE_ID = 777000


# ---- tenant and group, cached --------------------------------------------------------------
async def _tenant(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Any | None:
    """The community the update belongs to (botruntime's resolution, cached there)."""
    tenant = await tenant_of(update, context)
    return None if tenant is None or tenant.is_public else tenant


async def _config(tenant: Any, chat_id: int) -> GroupConfig | None:
    config = group_config_cached(schema_name=tenant.schema_name, chat_id=chat_id)
    if config is MISS:
        config = await sync_to_async(group_config)(tenant=tenant, chat_id=chat_id)
    return config


async def _context(update: Update, context: ContextTypes.DEFAULT_TYPE):
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_CHATS:
        return None, None
    tenant = await _tenant(update, context)
    if tenant is None:
        return None, None
    config = await _config(tenant, chat.id)
    # A group's rules, captcha and leaderboard belong to the bot that bound it: another
    # bot in the same chat (the platform bot, another of the tenant's bots) stays out.
    if config is None or not config.served_by(context.bot.id):
        return None, None
    return tenant, config


def _name(user: User) -> str:
    return leaderboard.display_name(user.first_name, user.last_name)


# ---- welcome check ---------------------------------------------------------------------------
async def _welcome(
    context: ContextTypes.DEFAULT_TYPE,
    tenant: Any,
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
        user_name=_name(user),
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
            [[InlineKeyboardButton(captcha.BUTTON_TEXT, callback_data=welcome.callback_data)]]
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
    tenant, config = await _context(update, context)
    if config is None:
        return
    for user in message.new_chat_members:
        await _welcome(context, tenant, config, user, message.from_user)


def _present(member: ChatMember) -> bool:
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER)


async def on_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.chat_member
    if change is None:
        return
    was, now = _present(change.old_chat_member), _present(change.new_chat_member)
    if was == now:  # restricted, unrestricted, promoted: not a join or a leave
        return
    tenant, config = await _context(update, context)
    if config is None:
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
    tenant, config = await _context(update, context)
    if config is None:
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


# ---- ingestion and moderation --------------------------------------------------------------
def _facts(message: Message) -> MessageFacts:
    text = message.text or message.caption or ""
    entities = message.entities or message.caption_entities or ()
    links = []
    for entity in entities:
        if entity.type == MessageEntity.TEXT_LINK and entity.url:
            links.append(entity.url)
        elif entity.type == MessageEntity.URL:
            links.append(
                message.parse_entity(entity)
                if message.text
                else message.parse_caption_entity(entity)
            )
    origin = message.forward_origin
    forwarded = None
    if origin is not None and not message.is_automatic_forward:
        forwarded = _origin_name(origin)
    return MessageFacts(text=text, links=tuple(links), forwarded_from=forwarded)


def _origin_name(origin: Any) -> str:
    for attr in ("sender_user", "chat", "sender_chat"):
        source = getattr(origin, attr, None)
        if source is not None:
            name = getattr(source, "title", None) or getattr(source, "full_name", None)
            username = getattr(source, "username", None)
            return f"forwarded from {name or source.id}" + (f" (@{username})" if username else "")
    hidden = getattr(origin, "sender_user_name", None)
    return f"forwarded from {hidden or 'a hidden user'}"


async def _carry_out(
    context: ContextTypes.DEFAULT_TYPE,
    tenant: Any,
    config: GroupConfig,
    message: Message,
    enforcement: moderation.Enforcement,
) -> None:
    bot, chat_id, user_id = context.bot, config.chat_id, message.from_user.id
    errors: list[str] = []
    calls: list[tuple[str, Any]] = [("delete", bot.delete_message(chat_id, message.message_id))]
    if enforcement.action == "mute":
        calls.append(
            (
                "mute",
                bot.restrict_chat_member(
                    chat_id, user_id, ChatPermissions.no_permissions(), until_date=enforcement.until
                ),
            )
        )
    elif enforcement.action == "ban":
        calls.append(("ban", bot.ban_chat_member(chat_id, user_id)))
    for what, call in calls:
        try:
            await call
        except tg_error.TelegramError as exc:
            errors.append(f"{what}: {exc.message}")
    if errors:
        await in_tenant(
            tenant,
            moderation.moderation_action_failed,
            tenant=tenant,
            action_id=enforcement.action_id,
            error="; ".join(errors),
            bot_id=bot.id,
        )


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    sender = message.from_user
    # Channels posting in the group, anonymous admins, bots: not members to count or police.
    if (
        sender is None
        or sender.is_bot
        or message.sender_chat is not None
        or sender.id in (GROUP_ANONYMOUS_BOT_ID, TELEGRAM_SERVICE_ID)
    ):
        return
    tenant, config = await _context(update, context)
    if config is None:
        return
    edited = update.edited_message is not None
    if config.rules.enabled and sender.id not in config.admin_ids:
        facts = _facts(message)
        violation = config.rules.check(
            facts, flood_key=(config.schema_name, config.chat_id, sender.id), count_flood=not edited
        )
        if violation is not None:
            enforcement = await in_tenant(
                tenant,
                moderation.moderation_violation_handle,
                tenant=tenant,
                config=config,
                violation=violation,
                user_id=sender.id,
                user_name=_name(sender),
                message_id=message.message_id,
                bot_id=context.bot.id,
            )
            if enforcement is not None:
                await _carry_out(context, tenant, config, message, enforcement)
                return
    if config.leaderboard and not edited:
        text_length = len(message.text or message.caption or "")
        # Buffered: the runtime writes the counts of many messages in one statement.
        leaderboard.activity_count(
            config=config,
            user_id=sender.id,
            xp=leaderboard.message_xp(text_length=text_length),
            name=_name(sender),
            username=sender.username or "",
        )


# ---- /leaderboard --------------------------------------------------------------------------
LEADERBOARD_USAGE = "Use /leaderboard [day|week|all] in a group (default: week)."


async def on_leaderboard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is None:
        return
    args = context.args or []
    period = args[0].lower() if args else "week"
    if len(args) > 1 or period not in leaderboard.PERIODS:
        await message.reply_text(LEADERBOARD_USAGE)
        return
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_CHATS:
        await message.reply_text(LEADERBOARD_USAGE)
        return
    tenant, config = await _context(update, context)
    if config is None:
        return
    try:
        board = await in_tenant(
            tenant,
            leaderboard.leaderboard_top,
            tenant=tenant,
            chat_id=config.chat_id,
            period=period,
            config=config,
        )
    except ServiceError as exc:
        await message.reply_text(exc.message[:1].upper() + exc.message[1:] + ".")
        return
    await message.reply_text(leaderboard.board_text(board, title=config.title))


def commands() -> list[BotCommand]:
    return [BotCommand("leaderboard", "Top members of this group: day, week or all")]


def handlers() -> list[BaseHandler]:
    """In order: commands first; the catch-all message handler last (one handler per
    update in a group, so a command is not also counted as a message)."""
    group_messages = (
        filters.ChatType.GROUPS
        & (filters.UpdateType.MESSAGE | filters.UpdateType.EDITED_MESSAGE)
        & ~filters.COMMAND
        # Service messages never carry text: a text message skips the ~30 status checks.
        & (filters.TEXT | ~filters.StatusUpdate.ALL)
    )
    return [
        CommandHandler("leaderboard", on_leaderboard),
        CallbackQueryHandler(on_captcha_button, pattern=rf"^{captcha.CALLBACK_PREFIX}\d+$"),
        ChatMemberHandler(on_chat_member, chat_member_types=ChatMemberHandler.CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, on_new_members),
        MessageHandler(group_messages, on_group_message),
    ]
