"""Writes of the notification tables: subscriptions, recipients, the outbox and its
delivery protocol, bulk sends, per-tenant settings.

``notify`` / ``outbox_enqueue`` insert in the *caller's* transaction: a business operation
that rolls back leaves no message behind, and a retried one (same idempotency key) does not
enqueue twice (``INSERT ... ON CONFLICT DO NOTHING`` on (tenant, idempotency_key)).

The dispatcher's protocol (claim → mark sending → record) is in the ``outbox_*`` functions
below; docs/architecture.md ("Notifications") explains why it delivers every message at most
once and every message whose send never started exactly once.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

import history.services as history
from botruntime.batching import WriteBehind
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from notifications import conf
from notifications.events import Audience, EventType, event_get
from notifications.models import (
    BulkSend,
    NotificationSettings,
    OutboxMessage,
    Recipient,
    Subscription,
)
from notifications.selectors import (
    SubscriptionState,
    audience_of,
    bound_group_binding_get,
    group_binding_get,
    is_subscribed,
    subscription_states,
    tenant_default_bot_id,
)
from tenancy.selectors import chat_binding_get

logger = logging.getLogger(__name__)

MAX_TEXT = 4096  # Telegram's limit for a message's text
MAX_KEY = 200
OPTION_KEYS = {
    "parse_mode": str,
    "disable_notification": bool,
    "protect_content": bool,
    "link_preview_disabled": bool,
    "message_thread_id": int,
    "reply_markup": dict,  # an InlineKeyboardMarkup as Telegram's JSON
}
PARSE_MODES = {"HTML", "MarkdownV2", "Markdown"}
Status = OutboxMessage.Status


# --- Checks ------------------------------------------------------------------------------


def _event(name: str, audience: Audience) -> EventType:
    event = event_get(name)
    if event is None:
        raise ValueError(f"unknown notification event {name!r}; register it in events.py")
    if event.audience != audience:
        raise ValueError(f"event {name!r} is for {event.audience} chats, not {audience} chats")
    return event


def _text_check(text: str) -> None:
    if not text or not text.strip():
        raise ServiceError("a message needs text", code="invalid_text")
    if len(text) > MAX_TEXT:
        raise ServiceError(
            f"a Telegram message is at most {MAX_TEXT} characters", code="text_too_long"
        )


def _options_check(options: dict[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    for key, value in options.items():
        kind = OPTION_KEYS.get(key)
        if kind is None:
            raise ValueError(f"unknown message option {key!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"message option {key!r} must be {kind.__name__}")
    if "parse_mode" in options and options["parse_mode"] not in PARSE_MODES:
        raise ValueError(f"parse_mode must be one of {sorted(PARSE_MODES)}")
    return options


def _key_check(key: str) -> None:
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"idempotency_key must be 1-{MAX_KEY} characters")


# --- The outbox --------------------------------------------------------------------------


def outbox_enqueue(
    *,
    tenant: Any,
    bot_id: int,
    chat_id: int,
    event: str,
    text: str,
    idempotency_key: str,
    user: Any = None,
    options: dict[str, Any] | None = None,
    paid: bool = False,
    priority: int = OutboxMessage.Priority.TRANSACTIONAL,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Insert one message in the caller's transaction, without subscription checks (use
    ``notify`` for those). The same (tenant, idempotency_key) returns the first row."""
    _text_check(text)
    _key_check(idempotency_key)
    message = OutboxMessage(
        tenant=tenant,
        bot_id=bot_id,
        chat_id=chat_id,
        user=user,
        event=event,
        text=text,
        options=_options_check(options),
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
    tenant: Any,
    event: str,
    text: str,
    idempotency_key: str,
    chat_id: int | None = None,
    user: Any = None,
    options: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a notification to a bound group (``chat_id``) or to a user's private chat
    (``user``, a TelegramUser), in the caller's transaction. Returns None when the chat
    opted out of ``event``, the user blocked the bot, or the tenant has no bot to send
    with: a business operation never fails because a notification cannot go out."""
    if (chat_id is None) == (user is None):
        raise ValueError("notify needs exactly one of chat_id (a group) or user")
    if user is not None:
        kind = _event(event, Audience.USER)
        target = user.telegram_id
        recipient = Recipient.objects.filter(tenant=tenant, user=user).first()
        if recipient is not None and recipient.status == Recipient.Status.BLOCKED:
            return None
        bot_id = (recipient and recipient.bot_id) or tenant_default_bot_id(tenant=tenant)
    else:
        kind = _event(event, Audience.GROUP)
        target = chat_id
        binding = group_binding_get(tenant=tenant, chat_id=chat_id)
        if binding is None:
            raise ServiceError(
                f"chat {chat_id} is not a group of this community", code="group_not_found"
            )
        bot = binding.bot
        bot_id = bot.telegram_id if bot is not None and bot.is_active else None
        bot_id = bot_id or tenant_default_bot_id(tenant=tenant)
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


# --- Subscriptions -----------------------------------------------------------------------


def _subscription_target(chat_id: int) -> tuple[str, int]:
    return ("user" if audience_of(chat_id) == Audience.USER else "group", chat_id)


def _chat_lock(tenant: Any, chat_id: int) -> None:
    """Serialise changes to one chat's subscriptions (two presses of the same button must
    flip it twice, not once) until the caller's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"ntf:{tenant.pk}:{chat_id}"])


def _subscriptions_write(*, tenant: Any, chat_id: int, changes: dict[str, bool]) -> dict[str, bool]:
    """Store ``changes`` as deviations from the defaults; return what actually changed."""
    _chat_lock(tenant, chat_id)
    current = {s.event: s.enabled for s in subscription_states(tenant=tenant, chat_id=chat_id)}
    changed = {name: on for name, on in changes.items() if current.get(name) != on}
    if not changed:
        return {}
    defaults = {name: event_get(name).default for name in changed}  # type: ignore[union-attr]
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
    tenant: Any,
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
        changed = _subscriptions_write(tenant=tenant, chat_id=chat_id, changes=changes)
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


def subscription_toggle(*, tenant: Any, chat_id: int, event: str, actor: Actor) -> bool:
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


# --- Recipients --------------------------------------------------------------------------


def recipient_register(
    *,
    tenant: Any,
    user: Any,
    bot_id: int | None = None,
    group_chat_id: int | None = None,
    private_chat: bool = False,
) -> Recipient:
    """Note that the tenant can reach ``user``: they wrote to the bot in private
    (``private_chat``: this also lifts an earlier block), opened the Mini App, or were seen
    in one of the tenant's groups (``group_chat_id``, for bulk sends to that group)."""
    with transaction.atomic():
        recipient, _ = Recipient.objects.select_for_update().get_or_create(
            tenant=tenant, user=user, defaults={"chat_id": user.telegram_id, "bot_id": bot_id}
        )
        fields: list[str] = []
        if bot_id is not None and recipient.bot_id != bot_id:
            recipient.bot_id = bot_id
            fields.append("bot_id")
        if group_chat_id is not None and group_chat_id not in recipient.groups:
            recipient.groups = [*recipient.groups, group_chat_id]
            fields.append("groups")
        if private_chat and recipient.status == Recipient.Status.BLOCKED:
            recipient.status = Recipient.Status.ACTIVE
            recipient.blocked_at = None
            fields += ["status", "blocked_at"]
            history.record(
                action="notifications.recipient_unblocked",
                actor=Actor.user(user),
                tenant=tenant,
                target=("user", user.telegram_id),
                data={"bot_id": bot_id},
            )
        if fields:
            recipient.save(update_fields=[*fields, "updated_at"])
    return recipient


SeenKey = tuple[int, int, int]  # (tenant id, group chat id, telegram id)


def recipients_seen_in_groups(seen: dict[SeenKey, Any]) -> int:
    """People wrote in the tenants' groups: those the tenant's bot can reach (recipients)
    get the group noted, so bulk sends to its subscribers include them; nothing for people
    who never used the bot. The bot runtime's batches: one statement per group, for the
    groups still bound to that tenant. Returns how many recipients were noted."""
    by_group: dict[tuple[int, int], list[int]] = {}
    for tenant_id, chat_id, telegram_id in seen:
        by_group.setdefault((tenant_id, chat_id), []).append(telegram_id)
    noted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for (tenant_id, chat_id), telegram_ids in sorted(by_group.items()):
            if chat_binding_get(tenant=tenant_id, chat_id=chat_id) is None:
                continue  # unbound since (or bound to another community)
            cursor.execute(
                f"UPDATE {Recipient._meta.db_table}"  # noqa: S608
                " SET groups = array_append(groups, %s), updated_at = clock_timestamp()"
                " WHERE tenant_id = %s AND chat_id = ANY(%s::bigint[])"
                " AND NOT (groups @> ARRAY[%s]::bigint[])",
                [chat_id, tenant_id, sorted(set(telegram_ids)), chat_id],
            )
            noted += cursor.rowcount
    return noted


# Group members seen by the bots, noted in batches by the bot runtime.
SEEN_IN_GROUPS: WriteBehind[SeenKey, bool] = WriteBehind(
    "notifications.seen_in_groups", recipients_seen_in_groups, lambda old, new: new
)


# Telegram's 403 descriptions that mean the person is gone for this bot: they blocked it
# or deleted their account. Others ("bot can't initiate conversation with a user": they
# never started it) only mean the bot cannot write to them yet.
_BLOCKED_BY_USER = ("blocked by the user", "user is deactivated")


def _recipient_block(*, tenant: Any, user_id: int, chat_id: int, bot_id: int, error: str) -> None:
    """The bot may not write to this user: mark them and cancel what is queued for them.
    When they blocked the bot (or deleted their account), also switch all their
    notifications off. Audited; runs inside the caller's transaction."""
    blocked = any(reason in error for reason in _BLOCKED_BY_USER)
    recipient, _ = Recipient.objects.select_for_update().get_or_create(
        tenant=tenant, user_id=user_id, defaults={"chat_id": chat_id, "bot_id": bot_id}
    )
    cancelled = OutboxMessage.objects.filter(
        tenant=tenant, chat_id=chat_id, status=Status.PENDING
    ).update(
        status=Status.CANCELLED,
        last_error=error[:1000],
        lease_owner=None,
        lease_until=None,
        updated_at=timezone.now(),
    )
    if recipient.status == Recipient.Status.BLOCKED:
        return
    recipient.status = Recipient.Status.BLOCKED
    recipient.blocked_at = timezone.now()
    recipient.save(update_fields=["status", "blocked_at", "updated_at"])
    off: dict[str, bool] = {}
    if blocked:
        states = subscription_states(tenant=tenant, chat_id=chat_id)
        off = {s.event: False for s in states if s.enabled}
        _subscriptions_write(tenant=tenant, chat_id=chat_id, changes=off)
    action = "recipient_blocked" if blocked else "recipient_unreachable"
    history.record(
        action=f"notifications.{action}",
        actor=Actor.bot(bot_id),
        tenant=tenant,
        target=("user", chat_id),
        data={"unsubscribed": sorted(off), "cancelled": cancelled, "reason": error[:200]},
    )
    logger.info(
        f"notifications.{action}",
        extra={"tenant": tenant.pk, "chat_id": chat_id, "bot_id": bot_id},
    )


# --- Tenant settings ---------------------------------------------------------------------


def notification_settings_update(
    *, tenant: Any, allow_paid_broadcast: bool, actor: Actor, request: Any = None
) -> NotificationSettings:
    with transaction.atomic():
        found, _ = NotificationSettings.objects.select_for_update().get_or_create(tenant=tenant)
        if found.allow_paid_broadcast != allow_paid_broadcast:
            found.allow_paid_broadcast = allow_paid_broadcast
            found.save(update_fields=["allow_paid_broadcast", "updated_at"])
            history.record(
                action="notifications.settings_updated",
                actor=actor,
                tenant=tenant,
                target=("tenant", tenant.pk),
                data={"allow_paid_broadcast": allow_paid_broadcast},
                request=request,
            )
    return found


# --- Bulk sends --------------------------------------------------------------------------


def bulk_send_create(
    *,
    tenant: Any,
    text: str,
    idempotency_key: str,
    actor: Actor,
    audience: str = BulkSend.Audience.TENANT,
    chat_id: int | None = None,
    event: str = "announcement",
    options: dict[str, Any] | None = None,
    paid: bool | None = None,
    request: Any = None,
) -> BulkSend:
    """One message to every active recipient of the tenant, or to those seen in the group
    ``chat_id``, who did not switch ``event`` off. The dispatcher of the tenant's bot
    expands it into outbox rows in batches. ``paid`` (default: the tenant's setting) sends
    it as a paid broadcast; it needs ``allow_paid_broadcast``."""
    # An admin's request (the broadcasts API): every input is checked as user input.
    _text_check(text)
    if not idempotency_key or len(idempotency_key) > MAX_KEY:
        raise ServiceError(
            f"the idempotency key is 1-{MAX_KEY} characters", code="invalid_idempotency_key"
        )
    options = _options_check(options)
    kind = event_get(event)
    if kind is None or kind.audience != Audience.USER:
        raise ServiceError(
            f"{event!r} is not a notification for private chats", code="unknown_event"
        )
    if audience not in BulkSend.Audience.values:
        raise ServiceError(f"audience must be one of {BulkSend.Audience.values}", code="invalid")
    bot_id = tenant_default_bot_id(tenant=tenant)
    if audience == BulkSend.Audience.GROUP:
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
    allowed = NotificationSettings.objects.filter(tenant=tenant, allow_paid_broadcast=True).exists()
    if paid and not allowed:
        raise ServiceError(
            "paid broadcasts are off for this community", code="paid_broadcast_not_allowed"
        )
    with transaction.atomic():
        bulk, created = BulkSend.objects.get_or_create(
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
                target=("bulk_send", bulk.pk),
                data={
                    "audience": audience,
                    "chat_id": chat_id,
                    "event": kind.name,
                    "paid": bulk.paid,
                    "bot_id": bot_id,
                },
                request=request,
            )
    return bulk


# A bulk send's outbox rows for a batch of its recipients; the key bulk:<id>:<chat id> makes
# a repeated batch insert nothing. Columns left out take their defaults (now(), NULL).
_EXPAND = f"""
INSERT INTO {OutboxMessage._meta.db_table}
       (tenant_id, bot_id, chat_id, user_id, event, text, options, paid, priority, bulk_id,
        idempotency_key, status, attempts, last_error)
SELECT %(tenant)s, %(bot)s, r.chat_id, r.user_id, %(event)s, %(text)s, %(options)s::jsonb,
       %(paid)s, %(priority)s, %(bulk)s, %(key)s || r.chat_id, 'pending', 0, ''
  FROM unnest(%(chats)s::bigint[], %(users)s::bigint[]) AS r(chat_id, user_id)
ON CONFLICT DO NOTHING
"""  # noqa: S608 - the table name is ours, values are parameters


def bulk_send_expand(*, bot_id: int | None = None, batch_size: int = 500) -> int:
    """Expand the next batch of one bulk send (of ``bot_id``'s, or any) into outbox rows.
    The rows and the advanced cursor commit together, so a crash anywhere resumes at the
    next batch; the per-recipient idempotency key makes a repeated batch harmless.
    Returns how many recipients the batch covered (0: nothing to expand)."""
    with transaction.atomic():
        qs = BulkSend.objects.select_for_update(skip_locked=True).filter(
            status=BulkSend.Status.EXPANDING
        )
        if bot_id is not None:
            qs = qs.filter(bot_id=bot_id)
        bulk = qs.order_by("id").first()
        if bulk is None:
            return 0
        recipients = Recipient.objects.filter(
            tenant_id=bulk.tenant_id, id__gt=bulk.cursor, status=Recipient.Status.ACTIVE
        )
        if bulk.audience == BulkSend.Audience.GROUP:
            recipients = recipients.filter(groups__contains=[bulk.chat_id])
        batch = list(recipients.order_by("id").values("id", "chat_id", "user_id")[:batch_size])
        event = event_get(bulk.event)
        default = event.default if event is not None else True
        overrides = dict(
            Subscription.objects.filter(
                tenant_id=bulk.tenant_id,
                event=bulk.event,
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
                        "tenant": bulk.tenant_id,
                        "bot": bulk.bot_id,
                        "event": bulk.event,
                        "text": bulk.text,
                        "options": json.dumps(bulk.options),
                        "paid": bulk.paid,
                        "priority": OutboxMessage.Priority.BULK,
                        "bulk": bulk.pk,
                        "key": f"bulk:{bulk.pk}:",
                        "chats": [r["chat_id"] for r in rows],
                        "users": [r["user_id"] for r in rows],
                    },
                )
        fields = ["cursor", "expanded"]
        if batch:
            bulk.cursor = batch[-1]["id"]
            bulk.expanded += len(rows)
        if len(batch) < batch_size:
            bulk.status = BulkSend.Status.SENDING
            bulk.expanded_at = timezone.now()
            # Exact, whatever a repeated batch may have counted twice above.
            bulk.expanded = OutboxMessage.objects.filter(bulk=bulk).count()
            fields += ["status", "expanded_at"]
        bulk.save(update_fields=fields)
    return len(batch)


def bulk_send_finish(*, bot_id: int | None = None) -> int:
    """Complete the expanded bulk sends with nothing left pending or in flight: store the
    counts per status and audit them. Returns how many completed."""
    qs = BulkSend.objects.filter(status=BulkSend.Status.SENDING)
    if bot_id is not None:
        qs = qs.filter(bot_id=bot_id)
    completed = 0
    for bulk_id in qs.order_by("id").values_list("id", flat=True)[:50]:
        with transaction.atomic():
            bulk = (
                BulkSend.objects.select_for_update(skip_locked=True)
                .select_related("tenant")
                .filter(pk=bulk_id, status=BulkSend.Status.SENDING)
                .first()
            )
            if bulk is None:
                continue
            messages = OutboxMessage.objects.filter(bulk=bulk)
            if messages.filter(status__in=[Status.PENDING, Status.SENDING]).exists():
                continue
            counts = dict(
                messages.values("status").annotate(n=Count("id")).values_list("status", "n")
            )
            bulk.status = BulkSend.Status.COMPLETED
            bulk.counts = counts
            bulk.completed_at = timezone.now()
            bulk.save(update_fields=["status", "counts", "completed_at"])
            history.record(
                action="bulk_send.completed",
                actor=SYSTEM,
                tenant=bulk.tenant,
                target=("bulk_send", bulk.pk),
                data={"recipients": bulk.expanded, "counts": counts},
            )
            completed += 1
            level = logging.WARNING if counts.get(Status.UNCERTAIN) else logging.INFO
            logger.log(
                level, "notifications.bulk_completed", extra={"bulk": bulk.pk, "counts": counts}
            )
    return completed


def bulk_send_cancel(*, tenant: Any, bulk_id: int, actor: Actor, request: Any = None) -> BulkSend:
    """Stop a bulk send: no further expansion, its unsent messages cancelled."""
    with transaction.atomic():
        bulk = BulkSend.objects.select_for_update().filter(tenant=tenant, pk=bulk_id).first()
        if bulk is None:
            raise ServiceError("no such bulk send", code="bulk_send_not_found", status=404)
        if bulk.status in (BulkSend.Status.COMPLETED, BulkSend.Status.CANCELLED):
            return bulk
        cancelled = OutboxMessage.objects.filter(bulk=bulk, status=Status.PENDING).update(
            status=Status.CANCELLED,
            last_error="the bulk send was cancelled",
            lease_owner=None,
            lease_until=None,
            updated_at=timezone.now(),
        )
        bulk.status = BulkSend.Status.CANCELLED
        bulk.completed_at = timezone.now()
        bulk.save(update_fields=["status", "completed_at"])
        history.record(
            action="bulk_send.cancelled",
            actor=actor,
            tenant=tenant,
            target=("bulk_send", bulk.pk),
            data={"cancelled": cancelled},
            request=request,
        )
    return bulk


# --- The dispatcher's protocol -----------------------------------------------------------
# Times come from PostgreSQL's clock_timestamp() (not now(), which is frozen for the
# length of a transaction), so every dispatcher judges leases by the same clock.

TABLE = OutboxMessage._meta.db_table


@dataclass(frozen=True)
class Claimed:
    id: int
    tenant_id: int
    chat_id: int
    user_id: int | None
    event: str
    text: str
    options: dict[str, Any]
    paid: bool
    attempts: int
    priority: int
    bulk_id: int | None


_CLAIM = f"""
WITH picked AS (
    SELECT o.id FROM {TABLE} o
     WHERE o.bot_id = %(bot_id)s AND o.status = 'pending'
       AND o.not_before <= clock_timestamp()
       AND (o.lease_until IS NULL OR o.lease_until < clock_timestamp())
       AND EXISTS (SELECT 1 FROM tenancy_tenant t WHERE t.id = o.tenant_id AND t.status = 'active')
       -- Only the head of each chat's queue: a chat's messages go out in order, one at a
       -- time, and one that waits (rate limit, retry) holds back the ones after it. The
       -- head is one lookup in ntf_outbox_chat_queue per candidate (a NOT EXISTS over older
       -- rows let the planner join every candidate with every queued row of the bot).
       AND o.id = (
           SELECT e.id FROM {TABLE} e
            WHERE e.bot_id = o.bot_id AND e.chat_id = o.chat_id
              AND e.status IN ('pending', 'sending')
            ORDER BY e.id
            LIMIT 1)
     ORDER BY o.priority, o.id
     LIMIT %(limit)s
       FOR UPDATE OF o SKIP LOCKED
)
UPDATE {TABLE} o
   SET lease_owner = %(owner)s,
       lease_until = clock_timestamp() + %(lease)s * interval '1 second'
  FROM picked
 WHERE o.id = picked.id
RETURNING o.id, o.tenant_id, o.chat_id, o.user_id, o.event, o.text, o.options, o.paid,
          o.attempts, o.priority, o.bulk_id
"""  # noqa: S608 - the table name is ours, values are parameters


def outbox_claim(
    *, bot_id: int, owner: uuid.UUID, limit: int, lease_seconds: float | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` due messages of the bot to ``owner``: the oldest unfinished
    message of each chat (so a chat's messages go out in order, one at a time), transactional
    before bulk, then oldest first. A leased row is still ``pending``: if its dispatcher dies
    now, the lease runs out and another dispatcher claims it; nothing was sent."""
    lease = conf.lease_seconds() if lease_seconds is None else lease_seconds
    with transaction.atomic(), connection.cursor() as cursor:
        # The planner cannot tell how many candidates are heads, so with a long queue it
        # costs the scan high enough to JIT-compile it: ~50 ms of compiling for ~2 ms of work.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(_CLAIM, {"bot_id": bot_id, "owner": owner, "limit": limit, "lease": lease})
        rows = cursor.fetchall()
    rows.sort(key=lambda r: (r[9], r[0]))
    return [
        Claimed(
            id=r[0],
            tenant_id=r[1],
            chat_id=r[2],
            user_id=r[3],
            event=r[4],
            text=r[5],
            options=r[6] if isinstance(r[6], dict) else json.loads(r[6] or "{}"),
            paid=r[7],
            attempts=r[8],
            priority=r[9],
            bulk_id=r[10],
        )
        for r in rows
    ]


def _update(sql: str, params: dict[str, Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def outbox_mark_sending(
    *, message_id: int, owner: uuid.UUID, lease_seconds: float | None = None
) -> bool:
    """Commit, *before* the HTTP request, that this message's send is starting. False when
    the lease was lost (expired and claimed elsewhere, or the row was cancelled): skip it."""
    lease = conf.lease_seconds() if lease_seconds is None else lease_seconds
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'sending', updated_at = clock_timestamp(),"  # noqa: S608
            " lease_until = clock_timestamp() + %(lease)s * interval '1 second'"
            " WHERE id = %(id)s AND status = 'pending' AND lease_owner = %(owner)s"
            " AND lease_until > clock_timestamp()",
            {"id": message_id, "owner": owner, "lease": lease},
        )
    )


# A result is recorded even if the reaper already called the row uncertain: now it is known.
_MINE = "id = %(id)s AND lease_owner = %(owner)s AND status IN ('sending', 'uncertain')"


def outbox_record_sent(*, message_id: int, owner: uuid.UUID, telegram_message_id: int) -> bool:
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'sent', telegram_message_id = %(mid)s,"  # noqa: S608
            " sent_at = clock_timestamp(), updated_at = clock_timestamp(),"
            " attempts = attempts + 1, last_error = '', lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "mid": telegram_message_id},
        )
    )


def outbox_record_retry(
    *,
    message_id: int,
    owner: uuid.UUID,
    delay: float,
    error: str,
    count_attempt: bool = True,
    max_attempts: int | None = None,
) -> str:
    """Telegram did not take the message: back to pending after ``delay`` seconds, or
    ``failed`` once the counted attempts reach the limit. A 429 passes
    ``count_attempt=False``: flood control is not the message's failure."""
    limit = conf.max_attempts() if max_attempts is None else max_attempts
    bump = 1 if count_attempt else 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET attempts = attempts + %(bump)s,"  # noqa: S608
            " status = CASE WHEN attempts + %(bump)s >= %(limit)s THEN 'failed' ELSE 'pending' END,"
            " not_before = clock_timestamp() + %(delay)s * interval '1 second',"
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE} RETURNING status",
            {
                "id": message_id,
                "owner": owner,
                "bump": bump,
                "limit": limit,
                "delay": delay,
                "error": error[:1000],
            },
        )
        row = cursor.fetchone()
    return row[0] if row else ""


def outbox_record_final(*, message_id: int, owner: uuid.UUID, status: str, error: str) -> bool:
    """A final outcome without delivery: ``failed`` (Telegram refused it for good) or
    ``uncertain`` (the request may have reached Telegram; it is not resent)."""
    if status not in (Status.FAILED, Status.UNCERTAIN):
        raise ValueError(f"not a final status without delivery: {status!r}")
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = %(status)s, attempts = attempts + 1,"  # noqa: S608
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "status": status, "error": error[:1000]},
        )
    )


def outbox_record_migrated(*, message_id: int, owner: uuid.UUID, new_chat_id: int) -> bool:
    """The group became a supergroup with a new id: send there, now."""
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'pending', chat_id = %(chat)s,"  # noqa: S608
            " last_error = 'group migrated to a supergroup', updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "chat": new_chat_id},
        )
    )


def outbox_record_blocked(*, message_id: int, owner: uuid.UUID, bot_id: int, error: str) -> bool:
    """403: the user blocked the bot or never started it, or the bot is no longer in the
    group. The message is ``blocked``; a user is marked blocked (and, if they blocked the
    bot, unsubscribed), audited."""
    with transaction.atomic():
        updated = _update(
            f"UPDATE {TABLE} SET status = 'blocked', attempts = attempts + 1,"  # noqa: S608
            " last_error = %(error)s, updated_at = clock_timestamp(),"
            " lease_owner = NULL, lease_until = NULL"
            f" WHERE {_MINE}",
            {"id": message_id, "owner": owner, "error": error[:1000]},
        )
        if not updated:
            return False
        message = OutboxMessage.objects.select_related("tenant").get(pk=message_id)
        if message.user_id is not None:
            _recipient_block(
                tenant=message.tenant,
                user_id=message.user_id,
                chat_id=message.chat_id,
                bot_id=bot_id,
                error=error,
            )
        else:
            cancelled = OutboxMessage.objects.filter(
                tenant=message.tenant, bot_id=bot_id, chat_id=message.chat_id, status=Status.PENDING
            ).update(
                status=Status.CANCELLED,
                last_error="the bot cannot write to this chat",
                lease_owner=None,
                lease_until=None,
                updated_at=timezone.now(),
            )
            logger.warning(
                "notifications.chat_forbidden",
                extra={"chat_id": message.chat_id, "bot_id": bot_id, "cancelled": cancelled},
            )
    return True


def outbox_unmark(*, message_id: int, owner: uuid.UUID, delay: float) -> bool:
    """Take back a ``sending`` mark whose request was never made (the rate limiter said
    wait after all): pending again after ``delay`` seconds, no attempt counted."""
    return bool(
        _update(
            f"UPDATE {TABLE} SET status = 'pending', lease_owner = NULL, lease_until = NULL,"  # noqa: S608
            " not_before = clock_timestamp() + %(delay)s * interval '1 second',"
            " updated_at = clock_timestamp()"
            " WHERE id = %(id)s AND lease_owner = %(owner)s AND status = 'sending'",
            {"id": message_id, "owner": owner, "delay": delay},
        )
    )


def outbox_release(*, message_ids: list[int], owner: uuid.UUID, delay: float = 0.0) -> int:
    """Give claimed, never-started messages back (graceful stop, or deferred by a chat's
    rate limit for ``delay`` seconds). No attempt is counted."""
    if not message_ids:
        return 0
    return _update(
        f"UPDATE {TABLE} SET lease_owner = NULL, lease_until = NULL,"  # noqa: S608
        " not_before = greatest(not_before, clock_timestamp() + %(delay)s * interval '1 second')"
        " WHERE id = ANY(%(ids)s) AND lease_owner = %(owner)s AND status = 'pending'",
        {"ids": list(message_ids), "owner": owner, "delay": delay},
    )


def outbox_reap(*, bot_id: int | None = None) -> int:
    """Messages whose send started but whose dispatcher vanished (its lease ran out with the
    result unrecorded) may or may not have reached Telegram: mark them ``uncertain``, never
    resend them blindly. Returns how many (logged as a warning when any)."""
    where = "status = 'sending' AND lease_until < clock_timestamp()"
    params: dict[str, Any] = {}
    if bot_id is not None:
        where += " AND bot_id = %(bot_id)s"
        params["bot_id"] = bot_id
    reaped = _update(
        f"UPDATE {TABLE} SET status = 'uncertain', updated_at = clock_timestamp(),"  # noqa: S608
        " last_error = 'the dispatcher stopped during the send; delivery unknown'"
        f" WHERE {where}",
        params,
    )
    if reaped:
        logger.warning("notifications.uncertain", extra={"bot_id": bot_id, "count": reaped})
    return reaped


def outbox_purge(*, older_than: timedelta) -> int:
    """Delete finished messages older than ``older_than``; a bulk send's rows only once it
    completed (its counts are kept on the BulkSend). ``uncertain`` rows stay for review."""
    cutoff = timezone.now() - older_than
    finished = [Status.SENT, Status.FAILED, Status.BLOCKED, Status.CANCELLED]
    deleted, _ = (
        OutboxMessage.objects.filter(status__in=finished, updated_at__lt=cutoff)
        .exclude(
            bulk__status__in=[BulkSend.Status.EXPANDING, BulkSend.Status.SENDING],
        )
        .delete()
    )
    return deleted
