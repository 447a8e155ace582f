"""Joining a raid, and the status updates a participant gets as their tasks are
confirmed.

Who may join is checked against what X and Telegram confirm, never what the request
claims: the X account is the user's active link (X-confirmed; when the request comes
only with the community's word, e.g. initData its own bot signed, the link must also
have been made with Telegram vouching for the user), its age and followers are X's, the
group membership is Telegram's ``getChatMember`` now, the level is the leaderboard's XP.
The unique constraints on (raid, user) and (raid, X account) are the guarantee against
a double join; joining again answers the participation that exists."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.models import TelegramUser
from community import botapi
from community.selectors import bound_group_get, group_bot_token, member_level
from config.errors import ServiceError
from history.services import Actor
from notifications.services.outbox import UserMessage, notify_users
from raids import fraud
from raids.models import Participant, Raid, Result, Task
from raids.services.fraud import fraud_join_check
from raids.services.raids import task_line
from tenancy.models import Tenant
from tenancy.selectors import community_check
from xclient.models import XLink
from xclient.selectors import link_active
from xfeed.selectors import kol_list

logger = logging.getLogger(__name__)


def _refuse(code: str, message: str, status: int = 403) -> ServiceError:
    return ServiceError(message, code=code, status=status)


def _link_check(user: TelegramUser, confirmed: bool) -> XLink:
    link = link_active(user=user)
    if link is None:
        raise _refuse("not_linked", "link your X account first (/linkx in the bot)")
    if not confirmed and not link.confirmed:
        # The request has only the community's word for who the user is, and so had the
        # link: nothing Telegram or X confirmed ties this X account to this person.
        raise _refuse(
            "link_unconfirmed",
            "confirm your X link through the bot (/linkx in a private chat with it) first",
        )
    return link


def _eligibility_check(
    tenant: Tenant, raid: Raid, user: TelegramUser, link: XLink, now: datetime
) -> None:
    # The blocklist refuses; an X account once linked to someone else (``x_shared``) may
    # join, and the anti-fraud scan flags it for the admins' review.
    reason = fraud_join_check(
        tenant=tenant, raid=raid, user_id=user.telegram_id, x_user_id=link.x_user_id
    )
    if reason == fraud.BLOCKED:
        raise _refuse("blocked", "you may not join this community's raids")
    if raid.min_account_age_days:
        born = link.x_created_at
        if born is None or now - born < timedelta(days=raid.min_account_age_days):
            raise _refuse(
                "account_too_new",
                f"your X account must be at least {raid.min_account_age_days} days old",
            )
    if link.followers < raid.min_followers:
        raise _refuse(
            "too_few_followers", f"your X account needs at least {raid.min_followers} followers"
        )
    if raid.members_only:
        group = bound_group_get(tenant=tenant, chat_id=raid.chat_id)
        status = botapi.chat_member_status(
            token=group_bot_token(tenant=tenant, bot_id=group.bot_id),
            chat_id=raid.chat_id,
            user_id=user.telegram_id,
        )
        if status not in botapi.IN_CHAT:
            raise _refuse("not_a_member", "join the group first: this raid is for its members")
    if raid.min_level:
        level = member_level(tenant=tenant, chat_id=raid.chat_id, user_id=user.telegram_id)
        if level < raid.min_level:
            raise _refuse(
                "level_too_low", f"this raid needs level {raid.min_level}; you are level {level}"
            )


def role_of(*, tenant: Tenant, link: XLink) -> str:
    """``kol`` when the X account is one of the community's KOLs (xfeed's list, kept by
    X's id), else ``member``."""
    is_kol = kol_list(tenant=tenant).filter(x_user_id=link.x_user_id).exists()
    return Task.Role.KOL if is_kol else Task.Role.MEMBER


def raid_join(
    *,
    tenant: Tenant,
    raid: Raid,
    user: TelegramUser,
    now: datetime | None = None,
    confirmed: bool = True,
    request: object = None,
) -> tuple[Participant, bool]:
    """Join ``raid``: (participant, created). ``confirmed``: Telegram vouched for the
    user (a bot update, Telegram-signed initData), not only the community's bot token.
    Refusals are 4xx with their reason as the code: ``raid_not_active``, ``not_linked``,
    ``link_unconfirmed``, ``blocked``, ``account_too_new``, ``too_few_followers``,
    ``not_a_member``, ``level_too_low``; ``x_account_taken`` when the X account already
    joined this raid from another Telegram account."""
    community_check(tenant)
    now = now or timezone.now()
    with tenant_context(tenant):
        raid = Raid.objects.get(pk=raid.pk)
        existing = Participant.objects.filter(raid=raid, user_id=user.telegram_id).first()
        if existing is not None:
            return existing, False
        if raid.status != Raid.Status.ACTIVE or not raid.starts_at <= now < raid.ends_at:
            raise _refuse("raid_not_active", f"this raid is not open to join ({raid.status})", 409)
        link = _link_check(user, confirmed)
        # Telegram is asked outside the transaction: no lock is held across the call.
        _eligibility_check(tenant, raid, user, link, now)
        role = role_of(tenant=tenant, link=link)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    participant = Participant.objects.create(
                        raid=raid,
                        user_id=user.telegram_id,
                        x_user_id=link.x_user_id,
                        x_username=link.username[:15],
                        role=role,
                        joined_at=now,
                    )
            except IntegrityError:
                # A concurrent join of the same person won, or the X account joined from
                # another Telegram account.
                again = Participant.objects.filter(raid=raid, user_id=user.telegram_id).first()
                if again is not None:
                    return again, False
                raise _refuse(
                    "x_account_taken",
                    f"@{link.username} already joined this raid from another Telegram account",
                    409,
                ) from None
            tasks = list(raid.tasks.filter(role=role))
            Result.objects.bulk_create(Result(participant=participant, task=t) for t in tasks)
            Raid.objects.filter(pk=raid.pk).update(participants_count=F("participants_count") + 1)
            history.record(
                action="raids.participant_joined",
                actor=Actor.user(user),
                tenant=tenant,
                target=("raid", raid.pk),
                data={
                    "participant_id": participant.pk,
                    "x_user_id": link.x_user_id,
                    "role": role,
                    "tasks": len(tasks),
                },
                request=request,
            )
    logger.info(
        "raids.participant_joined",
        extra={"tenant": tenant.slug, "raid_id": raid.pk, "user_id": user.telegram_id},
    )
    return participant, True


STATUS_MARK = {
    Result.Status.VERIFIED: "done",
    Result.Status.PENDING: "pending",
    Result.Status.UNVERIFIABLE: "not checkable",
    Result.Status.FAILED: "not done",
}


def progress_text(raid: Raid, results: Iterable[Result]) -> str:
    rows = sorted(results, key=lambda r: (r.task.position, r.task_id))
    done = sum(r.task.points for r in rows if r.status == Result.Status.VERIFIED)
    total = sum(r.task.points for r in rows)
    name = raid.title or f"the raid on @{raid.post_author_username}"
    lines = [f"Your progress in {name}: {done}/{total} pts"]
    lines += [f"{task_line(r.task)[2:]} - {STATUS_MARK[Result.Status(r.status)]}" for r in rows]
    return "\n".join(lines)


def participants_notify_progress(
    *, tenant: Tenant, raid: Raid, participant_ids: Iterable[int], pass_id: str
) -> int:
    """Tell each participant, in their private chat, where their tasks stand after the
    validation pass ``pass_id`` confirmed some of theirs: one message per pass and
    participant (the outbox key carries the pass), in the caller's transaction and
    schema, in bulk (``notify_users``: a pass can confirm thousands). Returns how many
    messages were offered."""
    ids = sorted(set(participant_ids))
    if not ids:
        return 0
    results: dict[int, list[Result]] = {pk: [] for pk in ids}
    for result in Result.objects.filter(participant_id__in=ids).select_related("task"):
        results[result.participant_id].append(result)
    users = dict(Participant.objects.filter(pk__in=ids).values_list("pk", "user_id"))
    messages = [
        UserMessage(
            telegram_id=users[pk],
            text=progress_text(raid, results[pk]),
            idempotency_key=f"raid:{raid.pk}:progress:{pk}:{pass_id}"[:200],
        )
        for pk in ids
    ]
    return notify_users(tenant=tenant, event="raid.progress", messages=messages)
