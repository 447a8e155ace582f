"""Reads of the notification tables. Every query filters by tenant (or by bot)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from notifications.events import Audience, EventType, event_list
from notifications.models import (
    BulkSend,
    NotificationSettings,
    OutboxMessage,
    Recipient,
    Subscription,
)
from tenancy.selectors import chat_binding_get, group_not_found, tenant_bots


@dataclass(frozen=True)
class SubscriptionState:
    event: str
    label: str
    description: str
    default: bool
    enabled: bool


def audience_of(chat_id: int) -> Audience:
    """Private chats have the user's (positive) id; groups and supergroups negative ids."""
    return Audience.USER if chat_id > 0 else Audience.GROUP


def subscription_states(*, tenant: Any, chat_id: int) -> list[SubscriptionState]:
    """Every event type of the chat's audience, with the chat's effective on/off."""
    stored = dict(
        Subscription.objects.filter(tenant=tenant, chat_id=chat_id).values_list("event", "enabled")
    )
    return [
        SubscriptionState(
            event=e.name,
            label=e.label,
            description=e.description,
            default=e.default,
            enabled=stored.get(e.name, e.default),
        )
        for e in event_list(audience=audience_of(chat_id))
    ]


def is_subscribed(*, tenant: Any, chat_id: int, event: EventType) -> bool:
    stored = (
        Subscription.objects.filter(tenant=tenant, chat_id=chat_id, event=event.name)
        .values_list("enabled", flat=True)
        .first()
    )
    return event.default if stored is None else stored


def notification_settings_get(*, tenant: Any) -> NotificationSettings:
    """The tenant's settings (defaults, unsaved, when it never changed them)."""
    found = NotificationSettings.objects.filter(tenant=tenant).first()
    return found or NotificationSettings(tenant=tenant)


def recipient_get(*, tenant: Any, user: Any) -> Recipient | None:
    return Recipient.objects.filter(tenant=tenant, user=user).first()


def group_binding_get(*, tenant: Any, chat_id: int) -> Any | None:
    """The tenant's binding of the group ``chat_id`` (None for another tenant's)."""
    if tenant is None or getattr(tenant, "schema_name", "public") == "public":
        return None
    return chat_binding_get(tenant=tenant, chat_id=chat_id)


def bound_group_binding_get(*, tenant: Any, chat_id: int) -> Any:
    """The tenant's binding of the group ``chat_id``; 404 ``group_not_found`` for any
    other chat (and on the platform's own domain, which binds no groups)."""
    binding = group_binding_get(tenant=tenant, chat_id=chat_id)
    if binding is None:
        raise group_not_found(chat_id=chat_id)
    return binding


def tenant_default_bot_id(*, tenant: Any) -> int | None:
    bots = tenant_bots(tenant=tenant)
    return bots[0][0] if bots else None


def outbox_counts(*, tenant: Any, bulk: BulkSend | None = None) -> dict[str, int]:
    """Messages per delivery status (of one bulk send, or of the whole tenant)."""
    qs = OutboxMessage.objects.filter(tenant=tenant)
    if bulk is not None:
        qs = qs.filter(bulk=bulk)
    rows = qs.values("status").annotate(n=Count("id")).values_list("status", "n")
    return {status: n for status, n in rows}


def outbox_list(*, tenant: Any, status: str | None = None, bulk: BulkSend | None = None):
    qs = OutboxMessage.objects.filter(tenant=tenant).order_by("id")
    if status:
        qs = qs.filter(status=status)
    if bulk is not None:
        qs = qs.filter(bulk=bulk)
    return qs


def bulk_send_get(*, tenant: Any, bulk_id: int) -> BulkSend | None:
    return BulkSend.objects.filter(tenant=tenant, pk=bulk_id).first()


def bulk_send_get_by_key(*, tenant: Any, idempotency_key: str) -> BulkSend | None:
    return BulkSend.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def bulk_send_list(*, tenant: Any):
    """The tenant's bulk sends (the API pages them newest first)."""
    return BulkSend.objects.filter(tenant=tenant)


def bulk_send_counts(*, tenant: Any, bulk_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages per delivery status of each of ``bulk_ids``, in one query (a page of the
    list). A bulk send without rows (not expanded yet, or purged) is absent."""
    rows = (
        OutboxMessage.objects.filter(tenant=tenant, bulk_id__in=bulk_ids)
        .values("bulk_id", "status")
        .annotate(n=Count("id"))
        .values_list("bulk_id", "status", "n")
    )
    counts: dict[int, dict[str, int]] = {}
    for bulk_id, status, n in rows:
        counts.setdefault(bulk_id, {})[status] = n
    return counts
