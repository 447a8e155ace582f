"""Welcome check writes: a member who joins a group with the welcome feature on is greeted
with the group's welcome text and an "I'm human" button addressed to them, and may not
send anything until they press it. Unanswered after the group's timeout (default
5 minutes), they are removed (ban + unban, so they may come back and try again).

State lives in the tenant's schema (``Captcha``, one row per group and user, re-armed on
a new join). Each check schedules a durable one-off job (``community.captcha_expire``)
at its deadline, enqueued in the same transaction that arms the check, so a restart
loses no removal; a recurring sweep (``community.captcha_sweep``) catches anything a
job missed. Both call ``captcha_expire``, which is idempotent.

Ordering at the deadline: once a check expires it can no longer be passed (a press
after the deadline is "too late"), so the only writer of an expired pending row is the
expiry itself: it removes the member at Telegram first, then marks the row and audits
it; a transient Telegram failure leaves the row pending for the retry.

The welcome text is rendered by ``community.texts.welcome_render``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone as dj_timezone
from django_tenants.utils import tenant_context

import history.services as history
from botruntime.services import job_enqueue
from community.botapi import member_kick
from community.group_config import GroupConfig
from community.models import Captcha, Member
from community.selectors import group_bot_token
from community.services.moderation import member_joined
from community.texts import duration_text, welcome_render
from config.errors import ServiceError
from history.services import SYSTEM, Actor
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

EXPIRE_JOB = "community.captcha_expire"
CALLBACK_PREFIX = "captcha:"
RETRY_AFTER = timedelta(minutes=1)  # a removal Telegram could not do is tried again then
TRANSIENT = {"telegram_unavailable", "telegram_rate_limited"}
SWEEP_BATCH = 200
KEEP_RESOLVED = timedelta(days=30)
# Join times matter for "new member" rules only (at most 720 h): older ones are dropped.
KEEP_JOINS = timedelta(days=31)


@dataclass(frozen=True)
class Welcome:
    """What to post for a join. ``captcha_id`` is set when the member must press the
    button (and be restricted until then)."""

    text: str  # HTML
    captcha_id: int | None
    callback_data: str = ""


_ARM = """
INSERT INTO community_captcha AS c
    (group_id, user_id, user_name, status, bot_id, expires_at, created_at, error)
VALUES (%(group)s, %(user)s, %(name)s, 'pending', %(bot)s, %(expires)s, %(now)s, '')
ON CONFLICT (group_id, user_id) DO UPDATE
SET user_name = EXCLUDED.user_name, status = 'pending', bot_id = EXCLUDED.bot_id,
    expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at,
    resolved_at = NULL, message_id = NULL, error = ''
WHERE c.status <> 'pending' OR c.expires_at < %(now)s
RETURNING id
"""


def captcha_start(
    *,
    tenant: Tenant,
    config: GroupConfig,
    user_id: int,
    user_name: str,
    bot_id: int,
    added_by_admin: bool = False,
) -> Welcome | None:
    """A member joined: remember when, and say what to post. None when nothing should be
    posted: welcome off, or this join was already greeted (Telegram reports a join both
    as a message and as a chat_member update). No check for members an admin added."""
    now = dj_timezone.now()
    captcha_rules = config.captcha
    with tenant_context(tenant), transaction.atomic():
        fresh = member_joined(group_pk=config.group_pk, user_id=user_id, at=now)
        if not config.welcome:
            return None
        if not captcha_rules["enabled"] or added_by_admin:
            if not fresh:
                return None
            text = welcome_render(
                template=config.welcome_text,
                name=user_name,
                user_id=user_id,
                group=config.title,
                minutes="",
            )
            return Welcome(text=text, captcha_id=None)
        timeout = timedelta(seconds=captcha_rules["timeout_seconds"])
        with connection.cursor() as cursor:
            cursor.execute(
                _ARM,
                {
                    "group": config.group_pk,
                    "user": user_id,
                    "name": user_name[:160],
                    "bot": bot_id,
                    "expires": now + timeout,
                    "now": now,
                },
            )
            row = cursor.fetchone()
        if row is None:  # a check is already running for this member
            return None
        captcha_id = row[0]
        history.record(
            action="captcha.started",
            actor=Actor.bot(bot_id),
            tenant=tenant,
            target=("user", user_id),
            data={"chat_id": config.chat_id, "expires_at": (now + timeout).isoformat()},
        )
        job_enqueue(
            kind=EXPIRE_JOB,
            tenant=tenant,
            payload={"chat_id": config.chat_id, "user_id": user_id},
            run_at=now + timeout,
        )
    logger.info(
        "community.captcha.started",
        extra={"tenant": tenant.slug, "chat_id": config.chat_id, "user_id": user_id},
    )
    text = welcome_render(
        template=config.welcome_text,
        name=user_name,
        user_id=user_id,
        group=config.title,
        minutes=duration_text(captcha_rules["timeout_seconds"]),
    )
    return Welcome(text=text, captcha_id=captcha_id, callback_data=f"{CALLBACK_PREFIX}{user_id}")


def captcha_message_set(*, tenant: Tenant, captcha_id: int, message_id: int) -> None:
    """Remember the welcome message, so the expiry can delete it."""
    with tenant_context(tenant):
        Captcha.objects.filter(pk=captcha_id).update(message_id=message_id)


@dataclass(frozen=True)
class PassResult:
    outcome: str  # passed | already_passed | expired | none
    message_id: int | None = None


def captcha_pass(*, tenant: Tenant, config: GroupConfig, user_id: int) -> PassResult:
    """The member pressed their button. Passed once; audited."""
    now = dj_timezone.now()
    with tenant_context(tenant), transaction.atomic():
        captcha = (
            Captcha.objects.select_for_update()
            .filter(group_id=config.group_pk, user_id=user_id)
            .first()
        )
        if captcha is None:
            return PassResult("none")
        if captcha.status == Captcha.Status.PASSED:
            return PassResult("already_passed", captcha.message_id)
        if captcha.status != Captcha.Status.PENDING or captcha.expires_at <= now:
            return PassResult("expired", captcha.message_id)
        captcha.status = Captcha.Status.PASSED
        captcha.resolved_at = now
        captcha.save(update_fields=["status", "resolved_at"])
        history.record(
            action="captcha.passed",
            actor=Actor.user(user_id),
            tenant=tenant,
            target=("user", user_id),
            data={
                "chat_id": config.chat_id,
                "seconds": round((now - captcha.created_at).total_seconds(), 1),
            },
        )
    logger.info(
        "community.captcha.passed",
        extra={"tenant": tenant.slug, "chat_id": config.chat_id, "user_id": user_id},
    )
    return PassResult("passed", captcha.message_id)


def captcha_member_left(*, tenant: Tenant, config: GroupConfig, user_id: int) -> bool:
    """The member left before answering: the check ends (a new join re-arms it)."""
    with tenant_context(tenant), transaction.atomic():
        updated = Captcha.objects.filter(
            group_id=config.group_pk, user_id=user_id, status=Captcha.Status.PENDING
        ).update(status=Captcha.Status.LEFT, resolved_at=dj_timezone.now())
        if updated:
            history.record(
                action="captcha.left",
                actor=Actor.user(user_id),
                tenant=tenant,
                target=("user", user_id),
                data={"chat_id": config.chat_id},
            )
    return bool(updated)


def _resolve(captcha_id: int, status: str, *, error: str = "", now: datetime) -> bool:
    """Mark a still-pending, expired check resolved; False if someone else did."""
    return bool(
        Captcha.objects.filter(
            pk=captcha_id, status=Captcha.Status.PENDING, expires_at__lte=now
        ).update(status=status, resolved_at=now, error=error[:200])
    )


def captcha_expire(*, tenant: Tenant, chat_id: int, user_id: int, actor: Actor = SYSTEM) -> str:
    """Remove a member whose check is pending past its deadline. Returns what happened:
    "kicked", "failed" (Telegram refused for good: recorded), or "nothing" (passed,
    left, not due yet, or already handled). A transient Telegram failure raises
    ServiceError and leaves the check pending, for the job's retry or the sweep."""
    now = dj_timezone.now()
    with tenant_context(tenant):
        captcha = (
            Captcha.objects.select_related("group")
            .filter(
                group__chat_id=chat_id,
                user_id=user_id,
                status=Captcha.Status.PENDING,
                expires_at__lte=now,
            )
            .first()
        )
        if captcha is None:
            return "nothing"
        try:
            member_kick(
                token=group_bot_token(tenant=tenant, bot_id=captcha.bot_id or captcha.group.bot_id),
                chat_id=chat_id,
                user_id=user_id,
                message_id=captcha.message_id,
            )
        except ServiceError as exc:
            if exc.code in TRANSIENT:
                raise
            with transaction.atomic():
                if _resolve(captcha.pk, Captcha.Status.FAILED, error=exc.message, now=now):
                    history.record(
                        action="captcha.kick_failed",
                        actor=actor,
                        tenant=tenant,
                        target=("user", user_id),
                        data={"chat_id": chat_id, "code": exc.code, "error": exc.message},
                    )
            logger.warning(
                "community.captcha.kick_failed",
                extra={"tenant": tenant.slug, "chat_id": chat_id, "code": exc.code},
            )
            return "failed"
        with transaction.atomic():
            if not _resolve(captcha.pk, Captcha.Status.KICKED, now=now):
                return "nothing"
            history.record(
                action="captcha.kicked",
                actor=actor,
                tenant=tenant,
                target=("user", user_id),
                data={
                    "chat_id": chat_id,
                    "started_at": captcha.created_at.isoformat(),
                    "expired_at": captcha.expires_at.isoformat(),
                },
            )
    logger.info(
        "community.captcha.kicked",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "user_id": user_id},
    )
    return "kicked"


def captcha_sweep(*, tenant: Tenant, limit: int = SWEEP_BATCH) -> dict[str, int]:
    """Expire every overdue check of the tenant (the safety net under the one-off jobs),
    forget resolved checks older than KEEP_RESOLVED and joins older than KEEP_JOINS.
    Transient failures are counted and left for the next sweep."""
    now = dj_timezone.now()
    counts = {"kicked": 0, "failed": 0, "nothing": 0, "retry": 0}
    with tenant_context(tenant):
        due = list(
            Captcha.objects.filter(status=Captcha.Status.PENDING, expires_at__lte=now)
            .order_by("expires_at")
            .values_list("group__chat_id", "user_id")[:limit]
        )
        for chat_id, user_id in due:
            try:
                counts[captcha_expire(tenant=tenant, chat_id=chat_id, user_id=user_id)] += 1
            except ServiceError:
                counts["retry"] += 1
        Captcha.objects.exclude(status=Captcha.Status.PENDING).filter(
            resolved_at__lt=now - KEEP_RESOLVED
        ).delete()
        Member.objects.filter(joined_at__lt=now - KEEP_JOINS).delete()
    return counts
