"""Which event types a chat receives: a user's private chat or a bound group. Only
deviations from the defaults are stored; every change is audited."""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction

import history.services as history
from config.errors import ServiceError
from history.services import Actor
from notifications.events import Audience, event_get
from notifications.models import Subscription
from notifications.selectors import SubscriptionState, audience_of, subscription_states
from tenancy.models import Tenant


def _subscription_target(chat_id: int) -> tuple[str, int]:
    return ("user" if audience_of(chat_id) == Audience.USER else "group", chat_id)


def _chat_lock(tenant: Tenant, chat_id: int) -> None:
    """Serialise changes to one chat's subscriptions (two presses of the same button must
    flip it twice, not once) until the caller's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ntf:{tenant.pk}:{chat_id}"])


def subscriptions_write(
    *, tenant: Tenant, chat_id: int, changes: dict[str, bool]
) -> dict[str, bool]:
    """Store ``changes`` (event types of the chat's audience: the callers check the names)
    as deviations from the defaults; return what actually changed. Inside the caller's
    transaction and unaudited: the callers audit what they changed."""
    _chat_lock(tenant, chat_id)
    states = subscription_states(tenant=tenant, chat_id=chat_id)
    current = {s.event: s.enabled for s in states}
    changed = {name: on for name, on in changes.items() if current.get(name) != on}
    if not changed:
        return {}
    defaults = {s.event: s.default for s in states}
    back_to_default = [name for name, on in changed.items() if on == defaults[name]]
    deviations = [
        Subscription(tenant=tenant, chat_id=chat_id, event=name, enabled=on)
        for name, on in changed.items()
        if on != defaults[name]
    ]
    if back_to_default:
        Subscription.objects.filter(
            tenant=tenant, chat_id=chat_id, event__in=back_to_default
        ).delete()
    if deviations:
        Subscription.objects.bulk_create(
            deviations,
            update_conflicts=True,
            unique_fields=["tenant", "chat_id", "event"],
            update_fields=["enabled", "updated_at"],
        )
    return changed


def subscriptions_update(
    *,
    tenant: Tenant,
    chat_id: int,
    changes: dict[str, bool],
    actor: Actor,
    request: Any = None,
) -> list[SubscriptionState]:
    """Switch event types on or off for a user's private chat (positive ``chat_id``) or a
    group; only deviations from the defaults are stored. Audited when anything changed."""
    audience = audience_of(chat_id)
    for name in changes:
        event = event_get(name)
        if event is None or event.name != name or event.audience != audience:
            raise ServiceError(
                f"{name!r} is not a notification for {audience} chats", code="unknown_event"
            )
    with transaction.atomic():
        changed = subscriptions_write(tenant=tenant, chat_id=chat_id, changes=changes)
        if changed:
            history.record(
                action="notifications.subscriptions_changed",
                actor=actor,
                tenant=tenant,
                target=_subscription_target(chat_id),
                data={"changes": changed},
                request=request,
            )
    return subscription_states(tenant=tenant, chat_id=chat_id)


def subscription_toggle(*, tenant: Tenant, chat_id: int, event: str, actor: Actor) -> bool:
    """Flip one event type for a chat (the /settings buttons); returns the new state."""
    with transaction.atomic():
        _chat_lock(tenant, chat_id)
        states = {s.event: s.enabled for s in subscription_states(tenant=tenant, chat_id=chat_id)}
        if event not in states:
            raise ServiceError(f"{event!r} is not a notification here", code="unknown_event")
        subscriptions_update(
            tenant=tenant, chat_id=chat_id, changes={event: not states[event]}, actor=actor
        )
    return not states[event]
