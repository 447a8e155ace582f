"""python-telegram-bot handlers the notifications app contributes to the bot runtime.

- ``/settings`` in a private chat: the user's own notifications from this tenant, as an
  inline keyboard of switches (and the user becomes reachable by the tenant's bot);
- ``/settings`` in a group: the group's notifications, for users holding
  ``manage_settings`` in the tenant;
- pressing a switch (callback data ``ntf:<event>``) flips it and redraws the keyboard; in
  a group the presser's capability is checked again (anyone can press a button);
- in a handler group of its own, messages in bound groups note that their senders (when
  the bot can reach them) are in that group: broadcasts to a group's subscribers go to them.

The tenant comes from ``botruntime.context.tenant_of`` (the bot's own community, or the
group's community for the platform bot). These answers go straight to Telegram: they
reply to the user's own message or press, which is not the outbox's business. Services run
through ``sync_to_async``, never on the event loop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from telegram import BotCommand, Chat, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from accounts.roles import Capability
from accounts.selectors import user_capabilities, user_get
from accounts.services import user_touch
from botruntime.context import in_tenant_once, tenant_of
from config.cache import MISS, TTLCache
from config.errors import ServiceError
from history.services import Actor
from notifications import services
from notifications.selectors import SubscriptionState, group_binding_get, subscription_states
from tenancy.models import Tenant
from tenancy.selectors import group_not_found

logger = logging.getLogger(__name__)

GROUP_CHATS = (Chat.GROUP, Chat.SUPERGROUP)
CALLBACK_PREFIX = "ntf:"
NOT_ALLOWED = (
    "Only admins of this community with the manage_settings capability can change the "
    "group's notifications."
)


@dataclass(frozen=True)
class Panel:
    """What /settings shows, or why it shows nothing."""

    text: str
    states: list[SubscriptionState] | None = None


def keyboard(states: list[SubscriptionState]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"{'✅' if s.enabled else '🔕'} {s.label}",
                    callback_data=CALLBACK_PREFIX + s.event,
                )
            ]
            for s in states
        ]
    )


def _may_manage(tenant: Tenant, telegram_id: int) -> bool:
    user = user_get(telegram_id=telegram_id)
    return user is not None and Capability.MANAGE_SETTINGS in user_capabilities(
        tenant=tenant, user=user
    )


def _open_private(tenant: Tenant, bot_id: int, profile: dict[str, Any]) -> Panel:
    user = user_touch(profile=profile)
    services.recipient_register(tenant=tenant, user=user, bot_id=bot_id, private_chat=True)
    return Panel(
        f"Notifications from {tenant.name}. Tap a switch to turn it on or off.",
        subscription_states(tenant=tenant, chat_id=user.telegram_id),
    )


def _open_group(tenant: Tenant, chat_id: int, telegram_id: int) -> Panel:
    if group_binding_get(tenant=tenant, chat_id=chat_id) is None:
        return Panel(f"This group is not connected to {tenant.name}.")
    if not _may_manage(tenant, telegram_id):
        return Panel(NOT_ALLOWED)
    return Panel(
        f"Notifications {tenant.name} posts in this group. Tap a switch to turn it on or off.",
        subscription_states(tenant=tenant, chat_id=chat_id),
    )


def _toggle(
    tenant: Tenant, chat_id: int, telegram_id: int, event: str
) -> tuple[bool, list[SubscriptionState]]:
    """Flip ``event`` for the chat the pressed message is in. In a private chat that is the
    presser's own; in a group the presser needs manage_settings."""
    if chat_id > 0 and chat_id != telegram_id:
        raise ServiceError("these are someone else's settings", code="forbidden")
    if chat_id < 0:
        if group_binding_get(tenant=tenant, chat_id=chat_id) is None:
            raise group_not_found(chat_id=chat_id)
        if not _may_manage(tenant, telegram_id):
            raise ServiceError(NOT_ALLOWED, code="forbidden")
    enabled = services.subscription_toggle(
        tenant=tenant, chat_id=chat_id, event=event, actor=Actor.user(telegram_id)
    )
    return enabled, subscription_states(tenant=tenant, chat_id=chat_id)


async def on_settings(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message, chat, sender = update.effective_message, update.effective_chat, update.effective_user
    if message is None or chat is None or sender is None:
        return
    if chat.type not in (Chat.PRIVATE, *GROUP_CHATS):
        return
    tenant = await tenant_of(update, context)
    if tenant is None:
        logger.info("notifications.telegram.no_tenant", extra={"bot_id": context.bot.id})
        return
    if chat.type == Chat.PRIVATE:
        panel = await sync_to_async(_open_private)(tenant, context.bot.id, sender.to_dict())
    else:
        panel = await sync_to_async(_open_group)(tenant, chat.id, sender.id)
    markup = keyboard(panel.states) if panel.states is not None else None
    await message.reply_text(panel.text, reply_markup=markup)


async def on_toggle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None or query.message is None or not query.data:
        return
    event = query.data.removeprefix(CALLBACK_PREFIX)
    tenant = await tenant_of(update, context)
    if tenant is None:
        await query.answer()
        return
    try:
        # A flip is not idempotent: the update is recorded done with it, so a runtime that
        # dies right after never flips it back by running the press again.
        enabled, states = await in_tenant_once(
            tenant,
            update,
            _toggle,
            tenant=tenant,
            chat_id=query.message.chat.id,
            telegram_id=query.from_user.id,
            event=event,
        )
    except ServiceError as exc:
        await query.answer(exc.message, show_alert=True)
        return
    label = next((s.label for s in states if s.event == event), event)
    await query.edit_message_reply_markup(reply_markup=keyboard(states))
    await query.answer(f"{label}: {'on' if enabled else 'off'}")


# (bot id, chat id, user id) noted within the hour: a busy group costs one noting per
# member an hour, not one per message; the notings themselves are batched
# (services.SEEN_IN_GROUPS, written by the bot runtime).
SEEN_TTL = 3600.0
SEEN_MAX = 100_000
SEEN: TTLCache[tuple[int, int, int], bool] = TTLCache(
    "notifications.seen", ttl=SEEN_TTL, maxsize=SEEN_MAX
)
OBSERVER_GROUP = 90  # after every app's own handlers, which it never shadows


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, sender = update.effective_chat, update.effective_user
    if chat is None or sender is None or sender.is_bot or chat.type not in GROUP_CHATS:
        return
    key = (context.bot.id, chat.id, sender.id)
    if SEEN.get(key) is not MISS:
        return
    seen_at = SEEN.clock()
    tenant = await tenant_of(update, context)
    if tenant is None or tenant.is_public:
        return
    SEEN.set(key, True, read_at=seen_at)
    services.SEEN_IN_GROUPS.add((tenant.pk, chat.id, sender.id), True)


def commands() -> list[BotCommand]:
    return [BotCommand("settings", "Notification settings")]


def handlers() -> list[BaseHandler | tuple[BaseHandler, int]]:
    return [
        CommandHandler("settings", on_settings),
        CallbackQueryHandler(on_toggle, pattern=rf"^{CALLBACK_PREFIX}"),
        (MessageHandler(filters.ChatType.GROUPS, on_group_message), OBSERVER_GROUP),
    ]
