"""Broadcasts: one message to many of a community's members, expanded into outbox rows
in batches and sent by the dispatcher of the community's bot.

``broadcast_start`` is the admins' entry (the API): a broadcast keyed by the client's
``Idempotency-Key``, so a retried request returns the broadcast it already started.
``broadcast_create`` owns the broadcast and checks its input.

The audit trail records broadcasts under the action names ``bulk_send.created``,
``bulk_send.completed`` and ``bulk_send.cancelled`` with target type ``bulk_send``: those
names are data already recorded (and hashed) in history, so they stay as they are.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

import history.services as history
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications.events import Audience, event_get
from notifications.models import Broadcast, OutboxMessage, Recipient, Subscription
from notifications.selectors import (
    bound_group_binding_get,
    broadcast_get_by_key,
    broadcast_not_found,
    notification_settings_get,
    tenant_default_bot_id,
)
from notifications.services.checks import MAX_KEY, options_check, text_check
from tenancy.models import Tenant

logger = logging.getLogger(__name__)
Status = OutboxMessage.Status


@dataclass(frozen=True)
class Started:
    broadcast: Broadcast
    created: bool  # False: the key was used before, this is the broadcast it started


def _key_lock(tenant: Tenant, key: str) -> None:
    """Serialise requests with the same key until the caller's transaction ends: the second
    of two concurrent requests waits, then finds the first one's broadcast."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ntf-bulk:{tenant.pk}:{key}"]
        )


def _same_request(
    broadcast: Broadcast,
    *,
    text: str,
    audience: str,
    chat_id: int | None,
    event: str,
    paid: bool | None,
) -> bool:
    kind = event_get(event)
    return (
        broadcast.text == text
        and broadcast.audience == audience
        and broadcast.chat_id == chat_id
        and broadcast.event == (kind.name if kind is not None else event)
        and (paid is None or broadcast.paid == paid)
    )


def broadcast_start(
    *,
    tenant: Tenant,
    text: str,
    idempotency_key: str | None,
    actor: Actor,
    audience: str = Broadcast.Audience.TENANT,
    chat_id: int | None = None,
    event: str = "announcement",
    paid: bool | None = None,
    request: Any = None,
) -> Started:
    """Start a broadcast once per (tenant, ``idempotency_key``). The same key again returns
    the first broadcast (``created=False``) whatever happened since, provided the request is
    the same (text, audience, chat, event, and ``paid`` when given); a different one is
    refused (422 ``idempotency_key_reused``)."""
    if not idempotency_key:
        raise ServiceError(
            "send an Idempotency-Key header (e.g. a UUID) so a retried request starts nothing "
            "twice",
            code="idempotency_key_required",
        )
    with transaction.atomic():
        _key_lock(tenant, idempotency_key)
        existing = broadcast_get_by_key(tenant=tenant, idempotency_key=idempotency_key)
        if existing is not None:
            if not _same_request(
                existing, text=text, audience=audience, chat_id=chat_id, event=event, paid=paid
            ):
                raise ServiceError(
                    "this Idempotency-Key was already used for a different broadcast",
                    code="idempotency_key_reused",
                    status=422,
                )
            return Started(broadcast=existing, created=False)
        broadcast = broadcast_create(
            tenant=tenant,
            text=text,
            idempotency_key=idempotency_key,
            actor=actor,
            audience=audience,
            chat_id=chat_id,
            event=event,
            paid=paid,
            request=request,
        )
    return Started(broadcast=broadcast, created=True)


def broadcast_create(
    *,
    tenant: Tenant,
    text: str,
    idempotency_key: str,
    actor: Actor,
    audience: str = Broadcast.Audience.TENANT,
    chat_id: int | None = None,
    event: str = "announcement",
    options: dict[str, Any] | None = None,
    paid: bool | None = None,
    request: Any = None,
) -> Broadcast:
    """One message to every active recipient of the tenant, or to those seen in the group
    ``chat_id``, who did not switch ``event`` off. The dispatcher of the tenant's bot
    expands it into outbox rows in batches. ``paid`` (default: the tenant's setting) sends
    it as a paid broadcast; it needs ``allow_paid_broadcast``."""
    # An admin's request (the broadcasts API): every input is checked as user input.
    text_check(text)
    if not idempotency_key or len(idempotency_key) > MAX_KEY:
        raise ServiceError(
            f"the idempotency key is 1-{MAX_KEY} characters", code="invalid_idempotency_key"
        )
    options = options_check(options)
    kind = event_get(event)
    if kind is None or kind.audience != Audience.USER:
        raise ServiceError(
            f"{event!r} is not a notification for private chats", code="unknown_event"
        )
    if audience not in Broadcast.Audience.values:
        raise ServiceError(f"audience must be one of {Broadcast.Audience.values}", code="invalid")
    bot_id = tenant_default_bot_id(tenant=tenant)
    if audience == Broadcast.Audience.GROUP:
        if chat_id is None:
            raise ServiceError(
                "a broadcast to a group needs the group's chat_id", code="chat_id_required"
            )
        binding = bound_group_binding_get(tenant=tenant, chat_id=chat_id)
        if binding.bot is not None and binding.bot.is_active:
            bot_id = binding.bot.telegram_id
    elif chat_id is not None:
        raise ServiceError("chat_id is only for the group audience", code="invalid")
    if bot_id is None:
        raise ServiceError("this community has no bot to send with", code="no_bot")
    allowed = notification_settings_get(tenant=tenant).allow_paid_broadcast
    if paid and not allowed:
        raise ServiceError(
            "paid broadcasts are off for this community", code="paid_broadcast_not_allowed"
        )
    with transaction.atomic():
        broadcast, created = Broadcast.objects.get_or_create(
            tenant=tenant,
            idempotency_key=idempotency_key,
            defaults={
                "bot_id": bot_id,
                "event": kind.name,
                "text": text,
                "options": options,
                "audience": audience,
                "chat_id": chat_id,
                "paid": allowed if paid is None else paid,
                "created_by": f"{actor.type}:{actor.id}",
            },
        )
        if created:
            history.record(
                action="bulk_send.created",
                actor=actor,
                tenant=tenant,
                target=("bulk_send", broadcast.pk),
                data={
                    "audience": audience,
                    "chat_id": chat_id,
                    "event": kind.name,
                    "paid": broadcast.paid,
                    "bot_id": bot_id,
                },
                request=request,
            )
    return broadcast


# A broadcast's outbox rows for a batch of its recipients; the key bulk:<id>:<chat id> makes a
# repeated batch insert nothing (the prefix predates the name "broadcast": rows of a
# broadcast expanded before and after a deploy must share it). Columns left out take their
# defaults (now(), NULL).
_EXPAND = f"""
INSERT INTO {OutboxMessage._meta.db_table}
       (tenant_id, bot_id, chat_id, user_id, event, text, options, paid, priority, broadcast_id,
        idempotency_key, status, attempts, last_error)
SELECT %(tenant)s, %(bot)s, r.chat_id, r.user_id, %(event)s, %(text)s, %(options)s::jsonb,
       %(paid)s, %(priority)s, %(broadcast)s, %(key)s || r.chat_id, 'pending', 0, ''
  FROM unnest(%(chats)s::bigint[], %(users)s::bigint[]) AS r(chat_id, user_id)
ON CONFLICT DO NOTHING
"""  # noqa: S608 - the table name is ours, values are parameters


def broadcast_expand(*, bot_id: int | None = None, batch_size: int = 500) -> int:
    """Expand the next batch of one broadcast (of ``bot_id``'s, or any) into outbox rows.
    The rows and the advanced cursor commit together, so a crash anywhere resumes at the
    next batch; the per-recipient idempotency key makes a repeated batch harmless.
    Returns how many recipients the batch covered (0: nothing to expand)."""
    with transaction.atomic():
        qs = Broadcast.objects.select_for_update(skip_locked=True).filter(
            status=Broadcast.Status.EXPANDING
        )
        if bot_id is not None:
            qs = qs.filter(bot_id=bot_id)
        broadcast = qs.order_by("id").first()
        if broadcast is None:
            return 0
        recipients = Recipient.objects.filter(
            tenant_id=broadcast.tenant_id, id__gt=broadcast.cursor, status=Recipient.Status.ACTIVE
        )
        if broadcast.audience == Broadcast.Audience.GROUP:
            recipients = recipients.filter(groups__contains=[broadcast.chat_id])
        batch = list(recipients.order_by("id").values("id", "chat_id", "user_id")[:batch_size])
        event = event_get(broadcast.event)
        default = event.default if event is not None else True
        overrides = dict(
            Subscription.objects.filter(
                tenant_id=broadcast.tenant_id,
                event=broadcast.event,
                chat_id__in=[r["chat_id"] for r in batch],
            ).values_list("chat_id", "enabled")
        )
        rows = [r for r in batch if overrides.get(r["chat_id"], default)]
        if rows:
            # One statement over two arrays: the ORM's bulk_create spent ~0.5 s of Python
            # per 500 rows (on the thread the dispatcher's sends wait for).
            with connection.cursor() as cursor:
                cursor.execute(
                    _EXPAND,
                    {
                        "tenant": broadcast.tenant_id,
                        "bot": broadcast.bot_id,
                        "event": broadcast.event,
                        "text": broadcast.text,
                        "options": json.dumps(broadcast.options),
                        "paid": broadcast.paid,
                        "priority": OutboxMessage.Priority.BULK,
                        "broadcast": broadcast.pk,
                        "key": f"bulk:{broadcast.pk}:",
                        "chats": [r["chat_id"] for r in rows],
                        "users": [r["user_id"] for r in rows],
                    },
                )
        fields = ["cursor", "expanded"]
        if batch:
            broadcast.cursor = batch[-1]["id"]
            broadcast.expanded += len(rows)
        if len(batch) < batch_size:
            broadcast.status = Broadcast.Status.SENDING
            broadcast.expanded_at = timezone.now()
            # Exact, whatever a repeated batch may have counted twice above.
            broadcast.expanded = OutboxMessage.objects.filter(broadcast=broadcast).count()
            fields += ["status", "expanded_at"]
        broadcast.save(update_fields=fields)
    return len(batch)


def broadcast_finish(*, bot_id: int | None = None) -> int:
    """Complete the expanded broadcasts with nothing left pending or in flight: store the
    counts per status and audit them. Returns how many completed."""
    qs = Broadcast.objects.filter(status=Broadcast.Status.SENDING)
    if bot_id is not None:
        qs = qs.filter(bot_id=bot_id)
    completed = 0
    for broadcast_id in qs.order_by("id").values_list("id", flat=True)[:50]:
        with transaction.atomic():
            broadcast = (
                Broadcast.objects.select_for_update(skip_locked=True)
                .select_related("tenant")
                .filter(pk=broadcast_id, status=Broadcast.Status.SENDING)
                .first()
            )
            if broadcast is None:
                continue
            messages = OutboxMessage.objects.filter(broadcast=broadcast)
            if messages.filter(status__in=[Status.PENDING, Status.SENDING]).exists():
                continue
            counts = dict(
                messages.values("status").annotate(n=Count("id")).values_list("status", "n")
            )
            broadcast.status = Broadcast.Status.COMPLETED
            broadcast.counts = counts
            broadcast.completed_at = timezone.now()
            broadcast.save(update_fields=["status", "counts", "completed_at"])
            history.record(
                action="bulk_send.completed",
                actor=SYSTEM,
                tenant=broadcast.tenant,
                target=("bulk_send", broadcast.pk),
                data={"recipients": broadcast.expanded, "counts": counts},
            )
            completed += 1
            level = logging.WARNING if counts.get(Status.UNCERTAIN) else logging.INFO
            logger.log(
                level,
                "notifications.bulk_completed",
                extra={"bulk": broadcast.pk, "counts": counts},
            )
    return completed


def broadcast_cancel(
    *, tenant: Tenant, broadcast_id: int, actor: Actor, request: Any = None
) -> Broadcast:
    """Stop a broadcast: no further expansion, its unsent messages cancelled."""
    with transaction.atomic():
        broadcast = (
            Broadcast.objects.select_for_update().filter(tenant=tenant, pk=broadcast_id).first()
        )
        if broadcast is None:
            raise broadcast_not_found()
        if broadcast.status in (Broadcast.Status.COMPLETED, Broadcast.Status.CANCELLED):
            return broadcast
        cancelled = OutboxMessage.objects.filter(broadcast=broadcast, status=Status.PENDING).update(
            status=Status.CANCELLED,
            last_error="the bulk send was cancelled",
            lease_owner=None,
            lease_until=None,
            updated_at=timezone.now(),
        )
        broadcast.status = Broadcast.Status.CANCELLED
        broadcast.completed_at = timezone.now()
        broadcast.save(update_fields=["status", "completed_at"])
        history.record(
            action="bulk_send.cancelled",
            actor=actor,
            tenant=tenant,
            target=("bulk_send", broadcast.pk),
            data={"cancelled": cancelled},
            request=request,
        )
    return broadcast
