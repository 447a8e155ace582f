"""Anti-fraud writers: ``fraud_scan`` raises a raid's flags and excludes the flagged
participants while a flag is open; ``flag_decide`` records an admin's audited decision
(dismissed or upheld); ``blocked_add`` / ``blocked_remove`` keep the community's blocklist;
``fraud_join_check`` is what joining asks first (a read). The checks themselves are
``raids.fraud``.

Locks, in this order everywhere: the raid, then its flags, then its participants. A scan
and a decision on one raid therefore run one after the other, so a dismissal never puts
back a participant whom a concurrent scan has just flagged again."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from accounts.selectors import user_get
from config.errors import ServiceError
from history.services import Actor
from raids import fraud
from raids.models import Blocked, Flag, Participant, Raid
from tenancy.models import Tenant
from tenancy.selectors import community_check
from xclient.selectors import link_history

logger = logging.getLogger(__name__)

SCANNER = Actor.system("raids.fraud")
NOTE_MAX = 300
REASON_MAX = 300
_DONE = (Raid.Status.SETTLED, Raid.Status.CANCELLED)


def fraud_scan(*, tenant: Tenant, raid: Raid, now: datetime | None = None) -> list[Flag]:
    """Run every check on ``raid`` and raise the flags not raised before (one per
    participant and reason: ``raids_flag_once_per_reason``; a dismissed flag is never
    raised again, so an admin's override sticks). Participants with an open flag are set
    to ``excluded``. Returns the flags this scan raised (none on a second run). A settled
    or cancelled raid is left as it is: its money has moved."""
    community_check(tenant)
    now = now or timezone.now()
    thresholds = fraud.Thresholds.from_settings()
    with tenant_context(tenant):
        # Reads and checks outside the transaction: no lock is held while they run.
        inputs = fraud.scan_inputs(tenant=tenant, raid=raid)
        hits = fraud.hits_of(inputs, thresholds, now=now)
        with transaction.atomic():
            locked = Raid.objects.select_for_update().filter(pk=raid.pk).first()
            if locked is None:
                raise ServiceError("no such raid", code="raid_not_found", status=404)
            if locked.status in _DONE:
                logger.info(
                    "raids.fraud.scan_skipped",
                    extra={"tenant": tenant.slug, "raid": raid.pk, "status": locked.status},
                )
                return []
            raised = set(Flag.objects.filter(raid=locked).values_list("user_id", "reason"))
            created = Flag.objects.bulk_create(
                [
                    Flag(
                        raid=locked,
                        user_id=hit.user_id,
                        x_user_id=hit.x_user_id,
                        reason=hit.reason,
                        detail=hit.detail,
                    )
                    for hit in hits
                    if (hit.user_id, hit.reason) not in raised
                ]
            )
            open_flag = Flag.objects.filter(
                raid=locked, user_id=OuterRef("user_id"), status=Flag.Status.OPEN
            )
            excluded = set(
                Participant.objects.filter(raid=locked, status=Participant.Status.ACTIVE)
                .filter(Exists(open_flag))
                .values_list("user_id", flat=True)
            )
            if excluded:
                Participant.objects.filter(raid=locked, user_id__in=excluded).update(
                    status=Participant.Status.EXCLUDED
                )
            for flag in created:
                history.record(
                    action="raids.flag_raised",
                    actor=SCANNER,
                    tenant=tenant,
                    target=("raid_flag", flag.pk),
                    data={
                        "raid": locked.pk,
                        "user_id": flag.user_id,
                        "x_user_id": flag.x_user_id,
                        "reason": flag.reason,
                        "detail": flag.detail,
                        # False: already excluded by another open flag (or not joined).
                        "newly_excluded": flag.user_id in excluded,
                    },
                )
    logger.info(
        "raids.fraud.scanned",
        extra={
            "tenant": tenant.slug,
            "raid": raid.pk,
            "participants": len(inputs.participants),
            "raised": len(created),
            "excluded": len(excluded),
        },
    )
    return created


def fraud_join_check(*, tenant: Tenant, raid: Raid, user_id: int, x_user_id: int) -> str | None:
    """Why ``user_id`` (Telegram id) joining ``raid`` with X account ``x_user_id`` should be
    refused, as a reason of ``raids.fraud.REASONS``: ``blocked`` (this community's
    blocklist names the Telegram user or the X account) or ``x_shared`` (the X account was
    linked to another Telegram user before, in any community); None otherwise. The join
    service decides what to do with it."""
    community_check(tenant)
    with tenant_context(tenant):
        if Blocked.objects.filter(user_id=user_id).exists():
            return fraud.BLOCKED
        if Blocked.objects.filter(x_user_id=x_user_id).exists():
            return fraud.BLOCKED
    user = user_get(telegram_id=user_id)
    others = [
        link
        for link in link_history(x_user_id=x_user_id)
        if user is None or link.user_id != user.pk
    ]
    if others:
        logger.info(
            "raids.fraud.join_refused",
            extra={"tenant": tenant.slug, "raid": raid.pk, "user_id": user_id},
        )
        return fraud.X_SHARED
    return None


def _note(note: Any) -> str:
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise ServiceError(f"note: text of at most {NOTE_MAX} characters", code="invalid")
    return note.strip()


DECISIONS = (Flag.Status.DISMISSED, Flag.Status.UPHELD)


def flag_decide(
    *,
    tenant: Tenant,
    flag_id: int,
    status: str,
    note: str = "",
    actor: Actor,
    request: Any = None,
    chat_id: int | None = None,
) -> Flag:
    """An admin decides an open flag, audited with the admin and the note: ``dismissed``
    (an override: the participant scores again, unless another flag of theirs in that raid
    is still open) or ``upheld`` (the participant stays excluded)."""
    if status not in DECISIONS:
        raise ServiceError(f"status: one of {', '.join(DECISIONS)}", code="invalid")
    community_check(tenant)
    note = _note(note)
    with tenant_context(tenant), transaction.atomic():
        raid_id = Flag.objects.filter(pk=flag_id).values_list("raid_id", flat=True).first()
        if raid_id is not None:
            Raid.objects.select_for_update().filter(pk=raid_id).first()  # the scan's lock
        flags = Flag.objects.select_for_update(of=("self",)).filter(pk=flag_id)
        if chat_id is not None:  # from a group's command: that group's raids only
            flags = flags.filter(raid__chat_id=chat_id)
        flag = flags.first()
        if flag is None:
            raise ServiceError("no such flag", code="flag_not_found", status=404)
        if flag.status != Flag.Status.OPEN:
            raise ServiceError(
                f"this flag was already {flag.status}", code="flag_decided", status=409
            )
        flag.status = status
        flag.reviewed_by = int(actor.id) if actor.type == "user" else None
        flag.reviewed_at = timezone.now()
        flag.note = note
        flag.save(update_fields=["status", "reviewed_by", "reviewed_at", "note"])
        participant_status = None
        if flag.raid_id is not None and flag.user_id is not None:
            participant = (
                Participant.objects.select_for_update(of=("self",))
                .filter(raid_id=flag.raid_id, user_id=flag.user_id)
                .order_by()  # the default ordering joins the raid: its lock is taken above
                .first()
            )
            still_open = Flag.objects.filter(
                raid_id=flag.raid_id, user_id=flag.user_id, status=Flag.Status.OPEN
            ).exists()
            if participant is not None:
                wanted = (
                    Participant.Status.EXCLUDED
                    if status == Flag.Status.UPHELD or still_open
                    else Participant.Status.ACTIVE
                )
                if participant.status != wanted:
                    participant.status = wanted
                    participant.save(update_fields=["status"])
                participant_status = participant.status
        history.record(
            action="raids.flag_dismissed"
            if status == Flag.Status.DISMISSED
            else "raids.flag_upheld",
            actor=actor,
            tenant=tenant,
            target=("raid_flag", flag.pk),
            data={
                "raid": flag.raid_id,
                "user_id": flag.user_id,
                "reason": flag.reason,
                "note": note,
                "participant_status": participant_status,
            },
            request=request,
        )
    logger.info(
        "raids.fraud.flag_decided",
        extra={"tenant": tenant.slug, "flag": flag.pk, "status": status, "by": actor.id},
    )
    return flag


def _id_or_none(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ServiceError(f"{field}: a positive id", code="invalid")
    return value


def blocked_add(
    *,
    tenant: Tenant,
    user_id: int | None = None,
    x_user_id: int | None = None,
    reason: str = "",
    actor: Actor,
    request: Any = None,
) -> Blocked:
    """Put a Telegram user, an X account, or both (one person) on the blocklist: they
    cannot join this community's raids, and the next scan of a raid flags them where they
    already joined. 409 ``already_blocked`` when either is listed."""
    community_check(tenant)
    user_id = _id_or_none("user_id", user_id)
    x_user_id = _id_or_none("x_user_id", x_user_id)
    if user_id is None and x_user_id is None:
        raise ServiceError("give user_id, x_user_id or both", code="invalid")
    if not isinstance(reason, str) or len(reason) > REASON_MAX:
        raise ServiceError(f"reason: text of at most {REASON_MAX} characters", code="invalid")
    created_by = int(actor.id) if actor.type == "user" else None
    with tenant_context(tenant), transaction.atomic():
        try:
            with transaction.atomic():
                blocked = Blocked.objects.create(
                    user_id=user_id,
                    x_user_id=x_user_id,
                    reason=reason.strip(),
                    created_by=created_by,
                )
        except IntegrityError:
            raise ServiceError(
                "already on the blocklist", code="already_blocked", status=409
            ) from None
        history.record(
            action="raids.blocked_added",
            actor=actor,
            tenant=tenant,
            target=("raid_blocked", blocked.pk),
            data={"user_id": user_id, "x_user_id": x_user_id, "reason": blocked.reason},
            request=request,
        )
    logger.info("raids.fraud.blocked", extra={"tenant": tenant.slug, "blocked": blocked.pk})
    return blocked


def blocked_remove(*, tenant: Tenant, blocked_id: int, actor: Actor, request: Any = None) -> None:
    """Take an entry off the blocklist (open flags it caused stay for review)."""
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        blocked = Blocked.objects.select_for_update().filter(pk=blocked_id).first()
        if blocked is None:
            raise ServiceError("no such blocklist entry", code="blocked_not_found", status=404)
        history.record(
            action="raids.blocked_removed",
            actor=actor,
            tenant=tenant,
            target=("raid_blocked", blocked.pk),
            data={"user_id": blocked.user_id, "x_user_id": blocked.x_user_id},
            request=request,
        )
        blocked.delete()
    logger.info("raids.fraud.unblocked", extra={"tenant": tenant.slug, "blocked": blocked_id})
