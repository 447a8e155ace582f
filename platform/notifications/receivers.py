"""How notifications reacts to what the apps below it announce (they cannot import it).
Connected by ``NotificationsConfig.ready``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from accounts.models import TelegramUser
from accounts.selectors import staff_list
from accounts.signals import user_started
from history.signals import anchors_published
from notifications.services import notify, recipient_register
from tenancy.models import Tenant
from tenancy.selectors import tenant_get


@receiver(user_started, dispatch_uid="notifications.recipient_on_start")
def recipient_on_start(
    *, tenant: Tenant, user: TelegramUser, bot_id: int, private_chat: bool, **kwargs: Any
) -> None:
    """/start in a private chat: a community's bot can now message the user (broadcasts
    "to all members" reach people who started the bot); the platform bot registers only
    staff, whom it tells the audit anchors (``anchors_announce``)."""
    if private_chat and (not tenant.is_public or user.is_staff):
        recipient_register(tenant=tenant, user=user, bot_id=bot_id, private_chat=True)


@receiver(anchors_published, dispatch_uid="notifications.anchors_announce")
def anchors_announce(
    *, file: str, count: int, digest: str, published_at: datetime, **kwargs: Any
) -> int:
    """Queue the audit anchors' digest to every platform staff user through the platform
    bot (the public tenant's notifications, family ``alert.*``); returns how many."""
    platform = tenant_get(slug="public")
    if platform is None:
        return 0
    staff = staff_list()
    at = published_at.isoformat(timespec="microseconds")
    text = (
        f"Audit anchors published: {count} chain heads appended to anchors/{file} "
        f"with published_at {at}.\n"
        f"sha256 of those lines: {digest}\n"
        "Keep this message: it proves the anchor file was not changed later, and "
        "`history verify --anchors` proves the audit trail against the file."
    )
    queued = 0
    for user in staff:
        message = notify(
            tenant=platform,
            event="alert.history_anchors",
            text=text,
            user=user,
            idempotency_key=f"history.anchors:{digest}:{user.telegram_id}",
        )
        queued += message is not None
    return queued
