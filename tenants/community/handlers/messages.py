"""Every other group message (the catch-all, last of ``community.telegram.handlers()``):
parse it, let ``community.services.messages.group_message_handle`` decide, and carry out
the decision with the bot that received it (delete, mute, ban; a refusal is reported back
to the moderation log).

The hot path (every group message of every tenant): the tenant and the group's config
from in-process caches, the rule checks in memory, the leaderboard increment buffered.
Only a message that breaks a rule, a cache miss, or a join costs a database round trip.
"""

from __future__ import annotations

from typing import Any

from telegram import ChatPermissions, Message, MessageEntity, Update, User
from telegram import error as tg_error
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from community.group_config import GroupConfig
from community.handlers.common import group_of, user_name
from community.rules import MessageFacts
from community.services import moderation
from community.services.messages import GroupMessage, group_message_handle
from community.services.moderation import Enforcement
from tenancy.models import Tenant


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


def _parse(update: Update, message: Message, sender: User) -> GroupMessage:
    return GroupMessage(
        message_id=message.message_id,
        user_id=sender.id,
        user_name=user_name(sender),
        username=sender.username or "",
        sender_is_bot=sender.is_bot,
        on_behalf_of_chat=message.sender_chat is not None,
        edited=update.edited_message is not None,
        facts=_facts(message),
    )


async def _carry_out(
    context: ContextTypes.DEFAULT_TYPE,
    tenant: Tenant,
    config: GroupConfig,
    message: GroupMessage,
    enforcement: Enforcement,
) -> None:
    bot, chat_id, user_id = context.bot, config.chat_id, message.user_id
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
    sender = message.from_user if message is not None else None
    if message is None or sender is None:
        return
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return
    parsed = _parse(update, message, sender)
    decision = await group_message_handle(
        tenant=tenant, config=config, message=parsed, bot_id=context.bot.id
    )
    if decision.enforcement is not None:  # the message goes
        await _carry_out(context, tenant, config, parsed, decision.enforcement)
