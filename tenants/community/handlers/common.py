"""What every community handler needs from an update: its community, and for a group
message the group's cached config (only when the receiving bot is the one that bound it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from telegram import Chat, ChatMember, Message, Update, User
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from accounts.roles import Capability
from accounts.selectors import user_capabilities, user_get
from botruntime.context import tenant_of
from community.group_config import MISS, GroupConfig, group_config, group_config_cached
from community.texts import display_name
from history.services import Actor
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

GROUP_CHATS = (Chat.GROUP, Chat.SUPERGROUP)


async def community_of(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, log: bool = False
) -> Tenant | None:
    """The update's tenant, if it is a community (botruntime's resolution, cached there).
    ``log``: say why nothing happens (for updates someone expects an answer to)."""
    tenant = await tenant_of(update, context)
    if tenant is None or tenant.is_public:
        if log:
            logger.info("community.telegram.no_community", extra={"bot_id": context.bot.id})
        return None
    return tenant


async def _config(tenant: Tenant, chat_id: int) -> GroupConfig | None:
    config = group_config_cached(schema_name=tenant.schema_name, chat_id=chat_id)
    if config is MISS:
        config = await sync_to_async(group_config)(tenant=tenant, chat_id=chat_id)
    return config


async def group_of(
    update: Update, context: ContextTypes.DEFAULT_TYPE
) -> tuple[Tenant, GroupConfig] | tuple[None, None]:
    """(community, group config) of an update in a bound group served by this bot, else
    (None, None). From in-process caches on the common path."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_CHATS:
        return None, None
    tenant = await community_of(update, context)
    if tenant is None:
        return None, None
    config = await _config(tenant, chat.id)
    # A group's rules, captcha and leaderboard belong to the bot that bound it: another
    # bot in the same chat (the platform bot, another of the tenant's bots) stays out.
    if config is None or not config.served_by(context.bot.id):
        return None, None
    return tenant, config


def is_present(member: ChatMember) -> bool:
    """In the chat (a restricted member too, unless they left)."""
    if member.status == ChatMember.RESTRICTED:
        return bool(getattr(member, "is_member", False))
    return member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER)


def user_name(user: User) -> str:
    return display_name(user.first_name, user.last_name)


# ---- commands for a group's admins ----------------------------------------------------------
ANONYMOUS = (
    "Send this command as yourself, not anonymously: nobody can be checked behind the group."
)
UNCONFIRMED = "Telegram could not confirm your admin rights; try again."


@dataclass(frozen=True)
class AdminCommand:
    """A command one of a bound group's admins sent there: where, and by whom."""

    tenant: Tenant
    config: GroupConfig
    message: Message
    actor: Actor


def _holds(*, tenant: Tenant, telegram_id: int, capability: Capability) -> bool:
    user = user_get(telegram_id=telegram_id)
    return user is not None and capability in user_capabilities(tenant=tenant, user=user)


async def group_command(
    update: Update, context: ContextTypes.DEFAULT_TYPE, *, not_in_group: str
) -> tuple[Tenant, GroupConfig, Message] | None:
    """(community, group config, message) when the update is a command in a bound group
    served by this bot; else None, having told a private chat ``not_in_group`` (silent in
    groups that are not the community's)."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return None
    if chat.type not in GROUP_CHATS:
        await message.reply_text(not_in_group)
        return None
    tenant, config = await group_of(update, context)
    if tenant is None or config is None:
        return None
    return tenant, config, message


async def group_admin_command(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    *,
    capability: Capability,
    not_in_group: str,
    not_allowed: str,
    anonymous: str = ANONYMOUS,
    event: str = "community.telegram",
) -> AdminCommand | None:
    """The command when the update is one in a bound group served by this bot, from one
    of its administrators (in the last admin sync, and confirmed by Telegram now: the sync
    can be a day old) who holds ``capability`` in the community, as the API asks; else
    None, having replied why (silent in chats that are not the community's groups).
    Anonymous admins post as the group itself: nobody can be checked behind its name."""
    found = await group_command(update, context, not_in_group=not_in_group)
    if found is None:
        return None
    tenant, config, message = found
    chat, sender = message.chat, update.effective_user
    if message.sender_chat is not None or sender is None:
        await message.reply_text(anonymous)
        return None
    allowed = sender.id in config.admin_ids and await sync_to_async(_holds)(
        tenant=tenant, telegram_id=sender.id, capability=capability
    )
    if allowed:
        try:
            member = await context.bot.get_chat_member(chat.id, sender.id)
        except TelegramError as exc:
            logger.warning(
                f"{event}.admin_check_failed", extra={"chat_id": chat.id, "error": str(exc)}
            )
            await message.reply_text(UNCONFIRMED)
            return None
        allowed = member.status in (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
    if not allowed:
        logger.info(
            f"{event}.refused", extra={"tenant": tenant.slug, "chat_id": chat.id, "by": sender.id}
        )
        await message.reply_text(not_allowed)
        return None
    return AdminCommand(tenant=tenant, config=config, message=message, actor=Actor.user(sender.id))
