"""Recurring jobs of the community app (``config.job_registry``)."""

from __future__ import annotations

import logging
from datetime import timedelta

from community.selectors import group_list
from community.services import admins_refresh, captcha, group_title_refresh, leaderboard, moderation
from config.errors import ServiceError
from config.job_registry import job
from tenancy.models import Tenant

logger = logging.getLogger(__name__)


@job("community.groups_refresh", every=timedelta(days=1), per_tenant=True)
def groups_refresh(*, tenant: Tenant, payload: dict) -> None:
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


# ---- welcome check, leaderboards, moderation (community.services.*) ---------------------
@job("community.captcha_expire", per_tenant=True)
def captcha_expire(*, tenant: Tenant, payload: dict) -> None:
    """One member's welcome check reached its deadline: remove them unless they passed
    (enqueued by captcha_start; a transient Telegram failure raises, so it is retried)."""
    captcha.captcha_expire(tenant=tenant, chat_id=payload["chat_id"], user_id=payload["user_id"])


@job("community.captcha_sweep", every=timedelta(minutes=15), per_tenant=True)
def captcha_sweep(*, tenant: Tenant, payload: dict) -> None:
    """Safety net under the one-off expiry jobs (e.g. one dead-lettered): overdue checks
    are expired, old resolved ones forgotten."""
    captcha.captcha_sweep(tenant=tenant)


@job("community.leaderboard_rollup", every=timedelta(hours=6), per_tenant=True)
def leaderboard_rollup(*, tenant: Tenant, payload: dict) -> None:
    """Fold closed days into the all-time totals; prune old days."""
    leaderboard.leaderboard_rollup(tenant=tenant)


@job("community.moderation_prune", every=timedelta(days=1), per_tenant=True)
def moderation_prune(*, tenant: Tenant, payload: dict) -> None:
    """Forget moderation actions past their retention (and past every escalation window)."""
    moderation.moderation_log_prune(tenant=tenant)
