"""Who may configure the X feed from a group: an administrator of that group (in the last
admin sync from Telegram, and confirmed by Telegram when the command comes) who also
holds ``manage_settings`` in the community, as the API asks. Anonymous admins post as the
group itself, so they are asked to send the command as themselves: nobody can be
checked behind the group's name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from telegram import ChatMember, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from botruntime.context import in_tenant
from community.group_config import GroupConfig
from community.handlers.common import GROUP_CHATS, group_of
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from xfeed.selectors import manages_settings

logger = logging.getLogger(__name__)

NOT_IN_GROUP = "Send this command in the group whose X feed you want to configure."
ANONYMOUS = "Send this command as yourself, not anonymously: only settings managers may use it."
NOT_ALLOWED = "Only the group's admins who manage this community's settings can do this."
UNCONFIRMED = "Telegram could not confirm your admin rights; try again."


@dataclass(frozen=True)
class Command:
    """A command a settings manager sent in a bound group: where, and by whom."""

    tenant: Tenant
    config: GroupConfig
    message: Message
    actor: Actor


async def settings_manager_of(update: Update, context: ContextTypes.DEFAULT_TYPE) -> Command | None:
    """The command when the update is one in a bound group served by this bot, from one
    of its admins holding ``manage_settings``; else None, having replied why (silent in
    chats that are not the community's groups)."""
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None:
        return None
    if chat.type not in GROUP_CHATS:
        await message.reply_text(NOT_IN_GROUP)
        return None
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return None
    if message.sender_chat is not None or sender is None:
        await message.reply_text(ANONYMOUS)
        return None
    allowed = sender.id in config.admin_ids and await sync_to_async(manages_settings)(
        tenant=tenant, telegram_id=sender.id
    )
    if allowed:
        # The admin list is the last sync's (up to a day old): Telegram confirms the
        # sender administers the group now, as the wallet's commands ask.
        try:
            member = await context.bot.get_chat_member(chat.id, sender.id)
        except TelegramError as exc:
            logger.warning(
                "xfeed.telegram.admin_check_failed", extra={"chat_id": chat.id, "error": str(exc)}
            )
            await message.reply_text(UNCONFIRMED)
            return None
        allowed = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
    if not allowed:
        logger.info(
            "xfeed.telegram.refused",
            extra={"tenant": tenant.slug, "chat_id": chat.id, "by": sender.id},
        )
        await message.reply_text(NOT_ALLOWED)
        return None
    return Command(tenant=tenant, config=config, message=message, actor=Actor.user(sender.id))


def error_text(what: str, exc: ServiceError) -> str:
    """``Could not <what>: <field>: <reason>.``"""
    return f"Could not {what}: {exc.message.rstrip('.')}."


async def remove_command(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    usage: str,
    remove: Callable[..., Any],
    field: str,
    what: str,
    done: str,
) -> None:
    """A command taking one name (``field``) that ``remove`` (a service of the group)
    deletes; ``what`` and ``done`` are the failure's and the answer's text, with
    ``{name}`` in them."""
    found = await settings_manager_of(update, context)
    if found is None:
        return
    args = context.args or []
    if len(args) != 1:
        await found.message.reply_text(usage)
        return
    name = args[0]
    try:
        await in_tenant(
            found.tenant,
            remove,
            tenant=found.tenant,
            chat_id=found.config.chat_id,
            actor=found.actor,
            **{field: name},
        )
    except ServiceError as exc:
        await found.message.reply_text(error_text(what.format(name=name), exc))
        return
    await found.message.reply_text(done.format(name=name.lstrip("@")))


async def list_command(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    lines: Callable[..., list[str]],
    empty: str,
    title: str,
) -> None:
    """A command answering the group's lines (``lines(tenant=, chat_id=)``) under
    ``title``, or ``empty`` when there are none."""
    found = await settings_manager_of(update, context)
    if found is None:
        return
    listed = await in_tenant(found.tenant, lines, tenant=found.tenant, chat_id=found.config.chat_id)
    await found.message.reply_text(f"{title}\n" + "\n".join(listed) if listed else empty)
