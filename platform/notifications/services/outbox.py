"""Queueing messages: ``notify`` (subscription-aware) and ``outbox_enqueue`` (raw).

Both insert in the *caller's* transaction: a business operation that rolls back leaves no
message behind, and a retried one (same idempotency key) does not enqueue twice
(``INSERT ... ON CONFLICT DO NOTHING`` on (tenant, idempotency_key)).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from accounts.models import TelegramUser
from config.errors import ServiceError
from notifications.events import Audience
from notifications.models import OutboxMessage, Recipient
from notifications.selectors import (
    group_binding_get,
    is_subscribed,
    recipient_get,
    tenant_default_bot_id,
)
from notifications.services.checks import event_check, key_check, options_check, text_check
from tenancy.models import Tenant

logger = logging.getLogger(__name__)


def outbox_enqueue(
    *,
    tenant: Tenant,
    bot_id: int,
    chat_id: int,
    event: str,
    text: str,
    idempotency_key: str,
    user: TelegramUser | None = None,
    options: dict[str, Any] | None = None,
    paid: bool = False,
    priority: int = OutboxMessage.Priority.TRANSACTIONAL,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Insert one message in the caller's transaction, without subscription checks (use
    ``notify`` for those). The same (tenant, idempotency_key) returns the first row."""
    text_check(text)
    key_check(idempotency_key)
    message = OutboxMessage(
        tenant=tenant,
        bot_id=bot_id,
        chat_id=chat_id,
        user=user,
        event=event,
        text=text,
        options=options_check(options),
        paid=paid,
        priority=priority,
        idempotency_key=idempotency_key,
    )
    if not_before is not None:
        message.not_before = not_before
    OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    return OutboxMessage.objects.get(tenant=tenant, idempotency_key=idempotency_key)


def notify(
    *,
    tenant: Tenant,
    event: str,
    text: str,
    idempotency_key: str,
    chat_id: int | None = None,
    user: TelegramUser | None = None,
    options: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a notification to a bound group (``chat_id``) or to a user's private chat
    (``user``, a TelegramUser), in the caller's transaction. Returns None when the chat
    opted out of ``event``, the user blocked the bot, or the tenant has no bot to send
    with: a business operation never fails because a notification cannot go out."""
    if user is not None and chat_id is None:
        kind = event_check(event, Audience.USER)
        target = user.telegram_id
        recipient = recipient_get(tenant=tenant, user=user)
        if recipient is not None and recipient.status == Recipient.Status.BLOCKED:
            return None
        bot_id = (recipient and recipient.bot_id) or tenant_default_bot_id(tenant=tenant)
    elif chat_id is not None and user is None:
        kind = event_check(event, Audience.GROUP)
        target = chat_id
        binding = group_binding_get(tenant=tenant, chat_id=chat_id)
        if binding is None:
            raise ServiceError(
                f"chat {chat_id} is not a group of this community", code="group_not_found"
            )
        bot = binding.bot
        bot_id = bot.telegram_id if bot is not None and bot.is_active else None
        bot_id = bot_id or tenant_default_bot_id(tenant=tenant)
    else:
        raise ValueError("notify needs exactly one of chat_id (a group) or user")
    if bot_id is None:
        logger.warning("notifications.no_bot", extra={"tenant": tenant.pk, "event": event})
        return None
    if not is_subscribed(tenant=tenant, chat_id=target, event=kind):
        return None
    return outbox_enqueue(
        tenant=tenant,
        bot_id=bot_id,
        chat_id=target,
        user=user,
        event=event,
        text=text,
        idempotency_key=idempotency_key,
        options=options,
        not_before=not_before,
    )
