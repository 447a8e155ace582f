"""Moderation writes: the rules admins set, and what the bot does about a message that
breaks them. (Reads are in ``community.selectors``, the notice texts in ``community.texts``.)

The message path (``community.services.messages``) checks every group message against the
group's cached, compiled rules in memory (``community.rules``); only a message that
breaks a rule reaches ``moderation_violation_handle``, which decides the action (the
rule's own, or the next step of the escalation ladder), logs it in ModerationAction and
the audit trail in one transaction, and returns what to carry out at Telegram. The
handler carries it out with its own bot and reports a refusal back
(``moderation_action_failed``), so the log shows what really happened.

The audit entry names the rule, the pattern and the action, not the message text: the
audit trail is permanent, the action log (with its excerpt) is not.

What the bot says about a warning, mute or ban goes through the notifications outbox
(event ``moderation.notice``), queued in the same transaction: it respects the group's
send limits during a spam wave, and a group can turn the notices off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone as dj_timezone
from django_tenants.utils import tenant_context

import history.services as history
from community.group_config import GroupConfig, group_config_forget_on_commit
from community.models import Group, ModerationAction, ModerationRules
from community.rules import Violation, rules_effective, rules_validate
from community.selectors import bound_group_get, community_check, member_is_new
from community.texts import ladder_step_text, moderation_notice
from history.services import Actor
from notifications.events import Audience, EventType, event_register
from notifications.services import notify
from tenancy.connection import schema_connection
from tenancy.models import Tenant

logger = logging.getLogger(__name__)

NOTICE_EVENT = event_register(
    EventType(
        "moderation.notice",
        "Moderation notices",
        "The bot says in the group when it warns, mutes or bans someone",
        Audience.GROUP,
        True,
    )
)

AUDIT_ACTIONS = {
    "delete": "moderation.message_deleted",
    "warn": "moderation.warned",
    "mute": "moderation.muted",
    "ban": "moderation.banned",
}


# ---- rules -------------------------------------------------------------------------------
def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an update changed, for the audit entry: sections with their old and new
    values; blocklist words as added/removed lists (a list can be long). Both are whole
    documents (``rules_effective``, ``rules_validate``): every section is in each."""
    changed: dict[str, Any] = {}
    for key, new in after.items():
        old = before[key]
        if old == new:
            continue
        if key == "blocklist":
            words_old, words_new = old["words"], new["words"]
            entry = {
                k: {"from": old[k], "to": new[k]}
                for k in new
                if k != "words" and old.get(k) != new[k]
            }
            added = [w for w in words_new if w not in words_old]
            removed = [w for w in words_old if w not in words_new]
            if added or removed:
                entry["words"] = {"added": added, "removed": removed}
            changed[key] = entry
        else:
            changed[key] = {"from": old, "to": new}
    return changed


def moderation_rules_update(
    *, tenant: Tenant, chat_id: int, rules: dict[str, Any], actor: Actor, request: Any = None
) -> dict[str, Any]:
    """Replace a group's rules document (validated whole before anything is written;
    omitted sections take the defaults). ``enabled`` is the group's ``moderation``
    feature switch. Audited with what changed; the message path sees the new rules as
    soon as this commits (in this process) or within the config cache's TTL."""
    community_check(tenant)
    document = rules_validate(rules)
    with tenant_context(tenant), transaction.atomic():
        group = bound_group_get(tenant=tenant, chat_id=chat_id, for_update=True)
        row = ModerationRules.objects.select_for_update().filter(group=group).first()
        features = group.effective_features
        before = rules_effective(row.rules if row else None, enabled=features["moderation"])
        changed = _changes(before, document)
        if not changed:
            return document
        stored = {k: v for k, v in document.items() if k != "enabled"}
        user_id = int(actor.id) if actor.type == "user" and actor.id.isdigit() else None
        if row is None:
            ModerationRules.objects.create(group=group, rules=stored, updated_by=user_id)
        else:
            row.rules, row.updated_by = stored, user_id
            row.save(update_fields=["rules", "updated_by", "updated_at"])
        if "enabled" in changed:
            group.features = {**group.features, "moderation": document["enabled"]}
            group.save(update_fields=["features", "updated_at"])
        history.record(
            action="moderation.rules_updated",
            actor=actor,
            tenant=tenant,
            target=("chat", chat_id),
            data={"changed": changed},
            request=request,
        )
        group_config_forget_on_commit(chat_id=chat_id)
    logger.info(
        "community.moderation.rules_updated",
        extra={"tenant": tenant.slug, "chat_id": chat_id, "sections": sorted(changed)},
    )
    return document


# ---- members -----------------------------------------------------------------------------
_MEMBER_JOINED = """
INSERT INTO community_member (group_id, user_id, joined_at) VALUES (%s, %s, %s)
ON CONFLICT (group_id, user_id) DO UPDATE SET joined_at = EXCLUDED.joined_at
WHERE community_member.joined_at < EXCLUDED.joined_at - interval '1 minute'
RETURNING id
"""


def member_joined(*, group_pk: int, user_id: int, at: datetime | None = None) -> bool:
    """Remember when ``user_id`` joined (in the tenant's schema, the caller's
    transaction). False when they were already recorded as joining within the last
    minute: Telegram reports one join twice (a service message and a chat_member
    update), and a join/leave loop should not greet anyone twice."""
    with connection.cursor() as cursor:
        cursor.execute(_MEMBER_JOINED, [group_pk, user_id, at or dj_timezone.now()])
        return cursor.fetchone() is not None


# ---- violations --------------------------------------------------------------------------
@dataclass(frozen=True)
class Enforcement:
    """What to do at Telegram about one message (the message is always deleted; the
    notice, if any, is already queued in the outbox)."""

    action_id: int
    action: str  # delete | warn | mute | ban
    rule: str
    until: datetime | None
    strike: int


def _ladder_step(ladder: list[dict[str, Any]], index: int) -> dict[str, Any]:
    return ladder[min(index, len(ladder) - 1)]


def _strikes_lock(group_pk: int, user_id: int) -> None:
    # Two violations of one user at once must not both read "no strikes yet".
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtext(%s))",
            [f"{schema_connection.schema_name}:moderation:{group_pk}:{user_id}"],
        )


def moderation_violation_handle(
    *,
    tenant: Tenant,
    config: GroupConfig,
    violation: Violation,
    user_id: int,
    user_name: str,
    message_id: int | None,
    bot_id: int,
) -> Enforcement | None:
    """Decide and log what happens to a message that broke a rule. None when it did not
    after all (the link/forward rule, for a member who is not new). One transaction:
    the ModerationAction row and its audit entry."""
    now = dj_timezone.now()
    rules = config.rules.document
    with tenant_context(tenant), transaction.atomic():
        if violation.needs_new_member and not member_is_new(
            group_pk=config.group_pk, user_id=user_id, hours=rules["new_members"]["hours"], now=now
        ):
            return None
        action, strike, mute_seconds, next_step = violation.action, 0, violation.mute_seconds, ""
        if action == "escalate" and not violation.repeat:
            _strikes_lock(config.group_pk, user_id)
            ladder = rules["escalation"]["ladder"]
            since = now - timedelta(hours=rules["escalation"]["window_hours"])
            previous = ModerationAction.objects.filter(
                group_id=config.group_pk, user_id=user_id, strike__gt=0, created_at__gt=since
            ).count()
            step = _ladder_step(ladder, previous)
            action, strike, mute_seconds = step["action"], previous + 1, step.get("mute_seconds")
            next_step = ladder_step_text(_ladder_step(ladder, previous + 1))
        elif action == "escalate":
            action = "delete"
        until = now + timedelta(seconds=mute_seconds) if action == "mute" and mute_seconds else None
        row = ModerationAction.objects.create(
            group_id=config.group_pk,
            user_id=user_id,
            user_name=user_name[:160],
            rule=violation.rule,
            pattern=violation.pattern[:64],
            detail=violation.detail[:200],
            excerpt=violation.excerpt[:200],
            action=action,
            strike=strike,
            until=until,
            message_id=message_id,
        )
        history.record(
            action=AUDIT_ACTIONS[action],
            actor=Actor.bot(bot_id),
            tenant=tenant,
            target=("user", user_id),
            data={
                "chat_id": config.chat_id,
                "rule": violation.rule,
                "pattern": violation.pattern,
                "detail": violation.detail,
                "strike": strike,
                "until": until.isoformat() if until else None,
                "message_id": message_id,
                "moderation_action_id": row.pk,
            },
        )
        notice = moderation_notice(
            action=action,
            name=user_name or str(user_id),
            rule=violation.rule,
            mute_seconds=mute_seconds,
            next_step=next_step,
        )
        if notice:
            notify(
                tenant=tenant,
                event=NOTICE_EVENT.name,
                text=notice,
                chat_id=config.chat_id,
                idempotency_key=f"moderation:{config.chat_id}:{row.pk}",
            )
    logger.info(
        "community.moderation.action",
        extra={
            "tenant": tenant.slug,
            "chat_id": config.chat_id,
            "user_id": user_id,
            "rule": violation.rule,
            "action": action,
            "strike": strike,
        },
    )
    return Enforcement(
        action_id=row.pk, action=action, rule=violation.rule, until=until, strike=strike
    )


def moderation_action_failed(*, tenant: Tenant, action_id: int, error: str, bot_id: int) -> None:
    """Telegram refused to carry out a logged action (e.g. the bot may not restrict
    members): note it on the row and in the audit trail."""
    with tenant_context(tenant), transaction.atomic():
        row = ModerationAction.objects.select_for_update().filter(pk=action_id).first()
        if row is None:
            return
        row.error = (f"{row.error}; {error}" if row.error else error)[:200]
        row.save(update_fields=["error"])
        history.record(
            action="moderation.action_failed",
            actor=Actor.bot(bot_id),
            tenant=tenant,
            target=("user", row.user_id),
            data={"moderation_action_id": action_id, "action": row.action, "error": error[:200]},
        )
    logger.warning(
        "community.moderation.action_failed",
        extra={"tenant": tenant.slug, "action_id": action_id, "error": error[:200]},
    )


# ---- retention ---------------------------------------------------------------------------
def moderation_log_prune(*, tenant: Tenant, now: datetime | None = None) -> int:
    """Forget moderation actions older than ``MODERATION_LOG_RETENTION_DAYS``, but never
    within a group's escalation window (those strikes still count). Returns how many rows
    were deleted."""
    now = now or dj_timezone.now()
    keep = timedelta(days=settings.MODERATION_LOG_RETENTION_DAYS)
    deleted = 0
    with tenant_context(tenant):
        for group in Group.objects.select_related("moderation_rules"):
            try:
                stored = group.moderation_rules.rules
            except ModerationRules.DoesNotExist:
                stored = None
            window = timedelta(
                hours=rules_effective(stored, enabled=True)["escalation"]["window_hours"]
            )
            gone, _ = ModerationAction.objects.filter(
                group=group, created_at__lt=now - max(keep, window)
            ).delete()
            deleted += gone
    if deleted:
        logger.info(
            "community.moderation_log_pruned", extra={"tenant": tenant.slug, "count": deleted}
        )
    return deleted
