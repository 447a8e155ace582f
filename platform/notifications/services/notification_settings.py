"""A community's notification settings (a row only once something was changed)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

import history.services as history
from history.services import Actor
from notifications.models import NotificationSettings
from tenancy.models import Tenant


def notification_settings_update(
    *, tenant: Tenant, allow_paid_broadcast: bool, actor: Actor, request: Any = None
) -> NotificationSettings:
    """Switch whether the community's broadcasts go out as Telegram paid broadcasts;
    audited when it changes."""
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
