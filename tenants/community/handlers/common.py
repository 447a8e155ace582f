"""What every community handler needs from an update: its community, and for a group
message the group's cached config (only when the receiving bot is the one that bound it).
"""

from __future__ import annotations

import logging

from asgiref.sync import sync_to_async
from telegram import Chat, ChatMember, Update, User
from telegram.ext import ContextTypes

from botruntime.context import tenant_of
from community.group_config import MISS, GroupConfig, group_config, group_config_cached
from community.texts import display_name
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
