"""Queueing messages: ``notify`` (subscription-aware), ``notify_users`` (the same for many
users at once, each their own text) and ``outbox_enqueue`` (raw).

Both insert in the *caller's* transaction: a business operation that rolls back leaves no
message behind, and a retried one (same idempotency key) does not enqueue twice
(``INSERT ... ON CONFLICT DO NOTHING`` on (tenant, idempotency_key)).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import TelegramUser
from notifications.events import Audience
from notifications.models import OutboxMessage, Recipient, Subscription
from notifications.selectors import (
    group_binding_get,
    is_subscribed,
    recipient_get,
    tenant_default_bot_id,
)
from notifications.services.checks import event_check, key_check, options_check, text_check
from tenancy.models import Tenant
from tenancy.selectors import group_not_found

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
            raise group_not_found(chat_id=chat_id)
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


@dataclass(frozen=True)
class UserMessage:
    """One private message of a ``notify_users`` batch."""

    telegram_id: int
    text: str
    idempotency_key: str


BATCH = 1000


def notify_users(*, tenant: Tenant, event: str, messages: Sequence[UserMessage]) -> int:
    """``notify`` to many users at once, each with their own text (a raid's ten thousand
    results: a broadcast sends one text to all), in the caller's transaction and with
    ``notify``'s rules: a user who blocked the bot or opted out of ``event`` gets no row,
    each user's last bot sends, a key already used enqueues nothing. Three reads and
    one insert per thousand messages, where ``notify`` would take four statements per
    message. Returns how many rows were offered (keys already used included)."""
    kind = event_check(event, Audience.USER)
    for message in messages:
        text_check(message.text)
        key_check(message.idempotency_key)
    ids = sorted({message.telegram_id for message in messages})
    users = dict(TelegramUser.objects.filter(telegram_id__in=ids).values_list("telegram_id", "pk"))
    recipients = {
        chat_id: (status, bot_id)
        for chat_id, status, bot_id in Recipient.objects.filter(
            tenant=tenant, chat_id__in=ids
        ).values_list("chat_id", "status", "bot_id")
    }
    chosen = dict(
        Subscription.objects.filter(tenant=tenant, chat_id__in=ids, event=kind.name).values_list(
            "chat_id", "enabled"
        )
    )
    default_bot = tenant_default_bot_id(tenant=tenant)
    rows = []
    for message in messages:
        status, bot_id = recipients.get(message.telegram_id, (None, None))
        if status == Recipient.Status.BLOCKED or not chosen.get(message.telegram_id, kind.default):
            continue
        bot_id = bot_id or default_bot
        if bot_id is None:
            continue
        rows.append(
            OutboxMessage(
                tenant=tenant,
                bot_id=bot_id,
                chat_id=message.telegram_id,
                user_id=users.get(message.telegram_id),
                event=event,
                text=message.text,
                idempotency_key=message.idempotency_key,
            )
        )
    if default_bot is None and not rows and messages:
        logger.warning("notifications.no_bot", extra={"tenant": tenant.pk, "event": event})
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=BATCH)
    return len(rows)
