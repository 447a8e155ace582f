"""Recurring jobs of the community app (``botruntime.tasks``)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from botruntime.tasks import job
from community.selectors import group_list
from community.services import admins_refresh, group_title_refresh
from config.errors import ServiceError

logger = logging.getLogger(__name__)


@job("community.groups_refresh", every=timedelta(days=1), per_tenant=True)
def groups_refresh(*, tenant: Any, payload: dict) -> None:
    """Every day, for each bound group: the title from Telegram (getChat), then the admin
    list (getChatAdministrators). One group's refusal (the bot was removed, the chat was
    upgraded) does not stop the others; it is logged, and the job fails when Telegram
    could not be reached at all, so it is retried."""
    unreachable: list[str] = []
    for chat_id in list(group_list(tenant=tenant).values_list("chat_id", flat=True)):
        try:
            group_title_refresh(tenant=tenant, chat_id=chat_id)
            admins_refresh(tenant=tenant, chat_id=chat_id)
        except ServiceError as exc:
            logger.warning(
                "community.groups_refresh.skipped",
                extra={"tenant": tenant.slug, "chat_id": chat_id, "code": exc.code},
            )
            if exc.status >= 500:
                unreachable.append(f"{chat_id}: {exc.message}")
    if unreachable:
        raise ServiceError(
            "some groups could not be refreshed: " + "; ".join(unreachable),
            code="telegram_unavailable",
            status=503,
        )
