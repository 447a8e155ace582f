"""What the community app contributes to the bot runtime (``<app>/telegram.py``): its
handlers, in order, and its command menu entries. The handlers themselves are in
``community.handlers`` (incoming updates); outgoing Bot API calls of services are
``community.botapi``.

The tenant comes from ``botruntime.context.tenant_of`` (the bot's own community, or the
chat's binding for the platform bot). Services are sync Django code: ``in_tenant`` runs
them through ``sync_to_async`` inside the tenant's schema, never on the event loop.
"""

from __future__ import annotations

from telegram import BotCommand
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from community.handlers import binding, leaderboard, messages, welcome
from community.services.captcha import CALLBACK_PREFIX


def commands() -> list[BotCommand]:
    """The bot's command menu entries of this app (/bind stays off it: admins only)."""
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
        ChatMemberHandler(
            binding.on_my_chat_member, chat_member_types=ChatMemberHandler.MY_CHAT_MEMBER
        ),
        CommandHandler("bind", binding.on_bind),
        CommandHandler("leaderboard", leaderboard.on_leaderboard),
        CallbackQueryHandler(welcome.on_captcha_button, pattern=rf"^{CALLBACK_PREFIX}\d+$"),
        ChatMemberHandler(welcome.on_chat_member, chat_member_types=ChatMemberHandler.CHAT_MEMBER),
        MessageHandler(filters.StatusUpdate.NEW_CHAT_MEMBERS, welcome.on_new_members),
        MessageHandler(group_messages, messages.on_group_message),
    ]
