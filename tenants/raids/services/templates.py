"""Raid templates and auto-raids: a template says what a raid in a group looks like
(tasks, duration, eligibility, pool); with a project account (an X account, resolved
through X) every new original post of that account the X feed receives becomes a raid
from the template, through the durable job ``raids.auto_raid`` (the feed's transaction
must not call X or Telegram). Each (template, post) makes one raid at most: the job's
dedupe key, then ``raid_create``'s idempotency key, then the one-open-raid-per-post
index."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from botruntime.services import job_enqueue
from community.selectors import bound_group_get
from config.errors import ServiceError
from history.services import Actor
from raids.models import Raid, RaidTemplate
from raids.services.raids import (
    LIMITS,
    MAX_DURATION,
    MAX_GRACE,
    MAX_POOL,
    field_error,
    formula_check,
    int_check,
    raid_create,
    tasks_check,
    x_account_resolve,
)
from tenancy.models import Tenant
from tenancy.selectors import community_check
from wallet.currencies import currencies
from xfeed.posts import XPost

logger = logging.getLogger(__name__)

AUTO_RAID_JOB = "raids.auto_raid"
AUTO_ACTOR = Actor.system("auto-raid")
MAX_TEMPLATES = 20  # per group
# What stops one auto-raid without failing the job (retrying cannot help): the admins see
# it in the audit log ("raids.auto_raid_skipped").
SKIPPED = frozenset(
    {"insufficient_funds", "spending_frozen", "raid_exists", "post_not_found", "group_not_found"}
)


def spec_check(spec: Any) -> dict[str, Any]:
    """A template's raid as ``raid_create`` takes it, checked the same way (what needs X or
    Telegram, a follow task's account or a join task's chat, is checked at each raid)."""
    if not isinstance(spec, dict):
        raise field_error("spec", "an object")
    known = {
        "title", "tasks", "duration_minutes", "currency", "pool_amount", "formula",
        "formula_params", "min_account_age_days", "min_followers", "members_only",
        "min_level", "unverifiable_scores", "grace_seconds",
    }  # fmt: skip
    unknown = set(spec) - known
    if unknown:
        raise field_error("spec", f"unknown fields: {', '.join(sorted(unknown))}")
    currency = spec.get("currency")
    if currency not in currencies():
        raise field_error("spec.currency", f"one of {', '.join(sorted(currencies()))}")
    pool_amount = int_check(spec.get("pool_amount"), "spec.pool_amount", 1, MAX_POOL)
    longest = int(MAX_DURATION.total_seconds() // 60)
    checked: dict[str, Any] = {
        "title": str(spec.get("title", ""))[:120],
        "tasks": tasks_check(spec.get("tasks")),
        "duration_minutes": int_check(
            spec.get("duration_minutes", 60), "spec.duration_minutes", 5, longest
        ),
        "currency": currency,
        "pool_amount": pool_amount,
        "formula": spec.get("formula", "points"),
        "formula_params": formula_check(
            spec.get("formula", "points"), spec.get("formula_params"), pool_amount
        ),
        "members_only": bool(spec.get("members_only", True)),
        "unverifiable_scores": bool(spec.get("unverifiable_scores", False)),
        "grace_seconds": int_check(
            spec.get("grace_seconds", 30), "spec.grace_seconds", 0, MAX_GRACE
        ),
    }
    for name, high in LIMITS.items():
        checked[name] = int_check(spec.get(name, 0), f"spec.{name}", 0, high)
    return checked


def template_set(
    *,
    tenant: Tenant,
    chat_id: int,
    name: str,
    spec: dict[str, Any],
    username: str | None = None,
    is_active: bool = True,
    actor: Actor,
    request: Any = None,
) -> tuple[RaidTemplate, bool]:
    """Create or replace the group's template ``name``: (template, created). ``username``:
    the project's X account whose new posts become raids (resolved through X: its id is
    kept); None for a template without auto-raids."""
    community_check(tenant)
    name = name.strip()
    if not 0 < len(name) <= 64:
        raise field_error("name", "1-64 characters")
    checked = spec_check(spec)
    x_user_id, handle = (None, "")
    if username:
        x_user_id, handle = x_account_resolve(tenant, username.lstrip("@"), "username")
    with tenant_context(tenant), transaction.atomic():
        bound_group_get(tenant=tenant, chat_id=chat_id)
        existing = RaidTemplate.objects.select_for_update().filter(chat_id=chat_id, name=name)
        if not existing.exists() and (
            RaidTemplate.objects.filter(chat_id=chat_id).count() >= MAX_TEMPLATES
        ):
            raise ServiceError(
                f"a group has at most {MAX_TEMPLATES} templates", code="too_many_templates"
            )
        template, created = RaidTemplate.objects.update_or_create(
            chat_id=chat_id,
            name=name,
            defaults={
                "x_user_id": x_user_id,
                "is_active": is_active,
                "spec": {**checked, "username": handle},
                "created_by": int(actor.id) if actor.type == "user" else None,
            },
        )
        history.record(
            action="raids.template_set",
            actor=actor,
            tenant=tenant,
            target=("raid_template", template.pk),
            data={"chat_id": chat_id, "name": name, "username": handle, "active": is_active},
            request=request,
        )
    return template, created


def template_remove(
    *, tenant: Tenant, chat_id: int, template_id: int, actor: Actor, request: Any = None
) -> None:
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        bound_group_get(tenant=tenant, chat_id=chat_id)
        deleted, _ = RaidTemplate.objects.filter(pk=template_id, chat_id=chat_id).delete()
        if not deleted:
            raise ServiceError(
                f"no raid template {template_id} in this group",
                code="template_not_found",
                status=404,
            )
        history.record(
            action="raids.template_removed",
            actor=actor,
            tenant=tenant,
            target=("raid_template", template_id),
            data={"chat_id": chat_id},
            request=request,
        )


def auto_raids_enqueue(*, tenant: Tenant, posts: Iterable[XPost]) -> int:
    """In the X feed's transaction and the community's schema: one ``raids.auto_raid`` job
    per active template and new original post of its project account. Returns how many."""
    originals = [p for p in posts if p.kind == "original"]
    if not originals:
        return 0
    templates = list(
        RaidTemplate.objects.filter(
            is_active=True, x_user_id__in={p.author_id for p in originals}
        ).order_by("id")
    )
    queued = 0
    for post in originals:
        for template in (t for t in templates if t.x_user_id == post.author_id):
            job_enqueue(
                kind=AUTO_RAID_JOB,
                tenant=tenant,
                payload={
                    "template_id": template.pk,
                    "post_id": post.post_id,
                    "username": post.author_username or template.spec.get("username", ""),
                },
                dedupe_key=f"{AUTO_RAID_JOB}:{tenant.pk}:{template.pk}:{post.post_id}",
            )
            queued += 1
    return queued


def auto_raid_create(
    *, tenant: Tenant, template_id: int, post_id: int, username: str
) -> Raid | None:
    """The raid of ``template_id`` on the post (what the job runs): None when the template
    is gone or paused, or when the raid cannot be made (no funds, the post already raided:
    recorded as ``raids.auto_raid_skipped``); the same (template, post) again answers the
    same raid."""
    with tenant_context(tenant):
        template = RaidTemplate.objects.filter(pk=template_id, is_active=True).first()
    if template is None:
        return None
    spec = template.spec
    now = timezone.now()
    try:
        raid, created = raid_create(
            tenant=tenant,
            chat_id=template.chat_id,
            post_url=f"https://x.com/{username or 'i'}/status/{post_id}",
            tasks=spec["tasks"],
            starts_at=now,
            ends_at=now + timedelta(minutes=spec["duration_minutes"]),
            currency=spec["currency"],
            pool_amount=spec["pool_amount"],
            formula=spec["formula"],
            formula_params=spec["formula_params"],
            min_account_age_days=spec["min_account_age_days"],
            min_followers=spec["min_followers"],
            members_only=spec["members_only"],
            min_level=spec["min_level"],
            unverifiable_scores=spec["unverifiable_scores"],
            grace_seconds=spec["grace_seconds"],
            title=spec["title"] or template.name,
            actor=AUTO_ACTOR,
            idempotency_key=f"auto:{template.pk}:{post_id}",
            now=now,
        )
    except ServiceError as exc:
        if exc.code not in SKIPPED:
            raise
        history.record(
            action="raids.auto_raid_skipped",
            actor=AUTO_ACTOR,
            tenant=tenant,
            target=("raid_template", template.pk),
            data={"post_id": str(post_id), "code": exc.code, "detail": exc.message},
        )
        logger.warning(
            "raids.auto_raid_skipped",
            extra={"tenant": tenant.slug, "template_id": template.pk, "code": exc.code},
        )
        return None
    if created:
        with tenant_context(tenant):
            Raid.objects.filter(pk=raid.pk).update(template=template)
    return raid
