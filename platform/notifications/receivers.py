"""How notifications reacts to what the apps below it announce (they cannot import it).
Connected by ``NotificationsConfig.ready``."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from accounts.signals import user_started
from notifications.services import recipient_register


@receiver(user_started, dispatch_uid="notifications.recipient_on_start")
def recipient_on_start(
    *, tenant: Any, user: Any, bot_id: int, private_chat: bool, **kwargs: Any
) -> None:
    """/start in a private chat with a community's bot: the community can now message the
    user (bulk sends "to all members" reach people who started the bot)."""
    if private_chat and not tenant.is_public:
        recipient_register(tenant=tenant, user=user, bot_id=bot_id, private_chat=True)
