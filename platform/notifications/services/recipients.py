"""Who a tenant's bot can reach in private (recipients): registered when they use the bot,
noted in the groups they write in, marked when Telegram says the bot may not write to
them."""

from __future__ import annotations

import logging

from django.db import connection, transaction
from django.utils import timezone

import history.services as history
from accounts.models import TelegramUser
from botruntime.batching import WriteBehind
from history.services import Actor
from notifications.models import OutboxMessage, Recipient
from notifications.selectors import subscription_states
from notifications.services.subscriptions import subscriptions_write
from tenancy.models import Tenant
from tenancy.selectors import chat_tenant

logger = logging.getLogger(__name__)
Status = OutboxMessage.Status


def recipient_register(
    *,
    tenant: Tenant,
    user: TelegramUser,
    bot_id: int | None = None,
    group_chat_id: int | None = None,
    private_chat: bool = False,
) -> Recipient:
    """Note that the tenant can reach ``user``: they wrote to the bot in private
    (``private_chat``: this also lifts an earlier block), opened the Mini App, or were seen
    in one of the tenant's groups (``group_chat_id``, for broadcasts to that group)."""
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


def recipients_seen_in_groups(seen: dict[SeenKey, bool]) -> int:
    """People wrote in the tenants' groups: those the tenant's bot can reach (recipients)
    get the group noted, so broadcasts to its subscribers include them; nothing for people
    who never used the bot. The bot runtime's batches: one statement per group, for the
    groups still bound to that tenant. Returns how many recipients were noted."""
    by_group: dict[tuple[int, int], list[int]] = {}
    for tenant_id, chat_id, telegram_id in seen:
        by_group.setdefault((tenant_id, chat_id), []).append(telegram_id)
    noted = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for (tenant_id, chat_id), telegram_ids in sorted(by_group.items()):
            bound_to = chat_tenant(chat_id=chat_id)
            if bound_to is None or bound_to.pk != tenant_id:
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


def _seen_in_groups_apply(seen: dict[SeenKey, bool]) -> None:
    recipients_seen_in_groups(seen)  # the runtime's batches need no count


# Group members seen by the bots, noted in batches by the bot runtime.
SEEN_IN_GROUPS: WriteBehind[SeenKey, bool] = WriteBehind(
    "notifications.seen_in_groups", _seen_in_groups_apply, lambda old, new: new
)


# Telegram's 403 descriptions that mean the person is gone for this bot: they blocked it
# or deleted their account. Others ("bot can't initiate conversation with a user": they
# never started it) only mean the bot cannot write to them yet.
_BLOCKED_BY_USER = ("blocked by the user", "user is deactivated")


def recipient_block(*, tenant: Tenant, user_id: int, chat_id: int, bot_id: int, error: str) -> None:
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
        subscriptions_write(tenant=tenant, chat_id=chat_id, changes=off)
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
