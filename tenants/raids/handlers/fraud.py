"""``/flags``, ``/dismiss <flag id> [note]`` and ``/uphold <flag id> [note]`` in a bound
group, for its admins who hold ``manage_raids`` (the API's rule; Telegram confirms the
admin right when the command comes). The group sees the answers, so they stay short and
name only that group's raids' flags: the reason's detail is in the API's review queue."""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from telegram import ChatMember, Message, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from accounts.roles import Capability
from accounts.selectors import user_capabilities, user_get
from botruntime.context import in_tenant
from community.handlers.common import GROUP_CHATS, group_of
from config.errors import ServiceError
from history.services import Actor
from raids import fraud
from raids.models import Flag
from raids.services.fraud import NOTE_MAX, flag_dismiss, flag_uphold
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

NOT_IN_GROUP = "Send this command in the group whose raids you manage."
ANONYMOUS = "Send this command as yourself, not anonymously: only raid managers may use it."
NOT_ALLOWED = "Only the group's admins who manage this community's raids can do this."
UNCONFIRMED = "Telegram could not confirm your admin rights; try again."
MAX_LINES = 20
USAGE = "Use /{command} <flag id> [note], e.g. /{command} 12 checked with the user."


def manages_raids(*, tenant: Tenant, telegram_id: int) -> bool:
    user = user_get(telegram_id=telegram_id)
    return user is not None and Capability.MANAGE_RAIDS in user_capabilities(
        tenant=tenant, user=user
    )


async def _manager(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Tenant, int, Message, Actor] | None:
    """(community, chat id, message, actor) when the update is a command in a bound group
    from one of its admins holding ``manage_raids``; else None, having replied why."""
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
    allowed = sender.id in config.admin_ids and await sync_to_async(manages_raids)(
        tenant=tenant, telegram_id=sender.id
    )
    if allowed:
        try:
            member = await context.bot.get_chat_member(chat.id, sender.id)
        except TelegramError as exc:
            logger.warning(
                "raids.telegram.admin_check_failed", extra={"chat_id": chat.id, "error": str(exc)}
            )
            await message.reply_text(UNCONFIRMED)
            return None
        allowed = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
    if not allowed:
        logger.info(
            "raids.telegram.refused",
            extra={"tenant": tenant.slug, "chat_id": chat.id, "by": sender.id},
        )
        await message.reply_text(NOT_ALLOWED)
        return None
    return tenant, chat.id, message, Actor.user(sender.id)


def flag_line(flag: Flag) -> str:
    who = f"user {flag.user_id}" if flag.user_id else "someone"
    return f"#{flag.pk} {flag.reason}: {who} in raid {flag.raid_id}"


def flags_text(*, tenant: Tenant, chat_id: int) -> str:
    flags = fraud.flag_list(tenant=tenant, status="open", chat_id=chat_id)
    total = flags.count()
    if not total:
        return "No open flags for this group's raids."
    lines = [f"Open flags ({total}), excluded until decided:"]
    lines += [flag_line(flag) for flag in flags[:MAX_LINES]]
    if total > MAX_LINES:
        lines.append(f"... and {total - MAX_LINES} more (the full queue: the API)")
    lines.append("Decide with /dismiss <id> [note] or /uphold <id> [note].")
    return "\n".join(lines)


async def on_flags(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    found = await _manager(update, context)
    if found is None:
        return
    tenant, chat_id, message, _ = found
    await message.reply_text(await in_tenant(tenant, flags_text, tenant=tenant, chat_id=chat_id))


async def _decide(update: Update, context: ContextTypes.DEFAULT_TYPE, command: str) -> None:
    found = await _manager(update, context)
    if found is None:
        return
    tenant, chat_id, message, actor = found
    args = context.args or []
    if not args or not args[0].lstrip("#").isdigit() or len(args[0]) > 18:
        await message.reply_text(USAGE.format(command=command))
        return
    flag_id = int(args[0].lstrip("#"))
    note = " ".join(args[1:])[:NOTE_MAX]
    decide = flag_dismiss if command == "dismiss" else flag_uphold
    try:
        flag = await in_tenant(
            tenant, decide, tenant=tenant, flag_id=flag_id, note=note, actor=actor, chat_id=chat_id
        )
    except ServiceError as exc:
        await message.reply_text(f"Could not {command} flag #{flag_id}: {exc.message.rstrip('.')}.")
        return
    after = "scores again" if flag.status == Flag.Status.DISMISSED else "stays excluded"
    await message.reply_text(f"Flag #{flag.pk} {flag.status}: user {flag.user_id} {after}.")


async def on_dismiss(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _decide(update, context, "dismiss")


async def on_uphold(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await _decide(update, context, "uphold")
