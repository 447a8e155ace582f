"""Reads of the notification tables. Every query filters by tenant (or by bot)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from accounts.models import TelegramUser
from config.errors import ServiceError
from notifications.events import Audience, EventType, event_list
from notifications.models import (
    Broadcast,
    NotificationSettings,
    OutboxMessage,
    Recipient,
    Subscription,
)
from tenancy.models import ChatBinding, Tenant
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


def subscription_states(*, tenant: Tenant, chat_id: int) -> list[SubscriptionState]:
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


def is_subscribed(*, tenant: Tenant, chat_id: int, event: EventType) -> bool:
    stored = (
        Subscription.objects.filter(tenant=tenant, chat_id=chat_id, event=event.name)
        .values_list("enabled", flat=True)
        .first()
    )
    return event.default if stored is None else stored


def notification_settings_get(*, tenant: Tenant) -> NotificationSettings:
    """The tenant's settings (defaults, unsaved, when it never changed them)."""
    found = NotificationSettings.objects.filter(tenant=tenant).first()
    return found or NotificationSettings(tenant=tenant)


def recipient_get(*, tenant: Tenant, user: TelegramUser) -> Recipient | None:
    return Recipient.objects.filter(tenant=tenant, user=user).first()


def group_binding_get(*, tenant: Tenant | None, chat_id: int) -> ChatBinding | None:
    """The tenant's binding of the group ``chat_id`` (None for another tenant's)."""
    if tenant is None or tenant.is_public:
        return None
    return chat_binding_get(tenant=tenant, chat_id=chat_id)


def bound_group_binding_get(*, tenant: Tenant | None, chat_id: int) -> ChatBinding:
    """The tenant's binding of the group ``chat_id``; 404 ``group_not_found`` for any
    other chat (and on the platform's own domain, which binds no groups)."""
    binding = group_binding_get(tenant=tenant, chat_id=chat_id)
    if binding is None:
        raise group_not_found(chat_id=chat_id)
    return binding


def tenant_default_bot_id(*, tenant: Tenant) -> int | None:
    bots = tenant_bots(tenant=tenant)
    return bots[0][0] if bots else None


def outbox_counts(*, tenant: Tenant, broadcast: Broadcast | None = None) -> dict[str, int]:
    """Messages per delivery status (of one broadcast, or of the whole tenant)."""
    qs = OutboxMessage.objects.filter(tenant=tenant)
    if broadcast is not None:
        qs = qs.filter(broadcast=broadcast)
    rows = qs.values("status").annotate(n=Count("id")).values_list("status", "n")
    return {status: n for status, n in rows}


def outbox_list(
    *, tenant: Tenant, status: str | None = None, broadcast: Broadcast | None = None
) -> QuerySet[OutboxMessage]:
    qs = OutboxMessage.objects.filter(tenant=tenant).order_by("id")
    if status:
        qs = qs.filter(status=status)
    if broadcast is not None:
        qs = qs.filter(broadcast=broadcast)
    return qs


def broadcast_not_found() -> ServiceError:
    """The 404 for a broadcast id that is not one of this community's (unknown, or another
    tenant's: the answer does not tell them apart)."""
    return ServiceError("no such bulk send", code="bulk_send_not_found", status=404)


def broadcast_get(*, tenant: Tenant, broadcast_id: int) -> Broadcast:
    """The community's broadcast ``broadcast_id``; 404 ``bulk_send_not_found`` otherwise."""
    found = Broadcast.objects.filter(tenant=tenant, pk=broadcast_id).first()
    if found is None:
        raise broadcast_not_found()
    return found


def broadcast_get_by_key(*, tenant: Tenant, idempotency_key: str) -> Broadcast | None:
    return Broadcast.objects.filter(tenant=tenant, idempotency_key=idempotency_key).first()


def broadcast_list(*, tenant: Tenant) -> QuerySet[Broadcast]:
    """The tenant's broadcasts (the API pages them newest first)."""
    return Broadcast.objects.filter(tenant=tenant)


def broadcast_counts(*, tenant: Tenant, broadcast_ids: list[int]) -> dict[int, dict[str, int]]:
    """Messages per delivery status of each of ``broadcast_ids``, in one query (a page of the
    list). A broadcast without rows (not expanded yet, or purged) is absent."""
    rows = (
        OutboxMessage.objects.filter(tenant=tenant, broadcast_id__in=broadcast_ids)
        .values("broadcast_id", "status")
        .annotate(n=Count("id"))
        .values_list("broadcast_id", "status", "n")
    )
    counts: dict[int, dict[str, int]] = {}
    for broadcast_id, status, n in rows:
        counts.setdefault(broadcast_id, {})[status] = n
    return counts
