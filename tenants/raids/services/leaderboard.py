"""Raid points feed the community leaderboards: a settled raid's points become XP of its
participants in the raid's group, once."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

import history.services as history
from community.group_config import group_config_load
from community.services.leaderboard import xp_award_many
from history.selectors import entry_list
from history.services import SYSTEM, Actor
from raids.models import Participant, Raid
from tenancy.models import Tenant
from tenancy.selectors import community_check

logger = logging.getLogger(__name__)

AWARDED = "raids.raid_points_awarded"


def raid_points_award(*, tenant: Tenant, raid: Raid, actor: Actor = SYSTEM) -> int:
    """Add each active participant's points of a settled raid to their XP in the raid's
    group, on the group's local day of the settlement. Exactly once: under the raid's
    row lock, the history entry ``raids.raid_points_awarded`` is both the record and the
    marker, written in the same transaction as the XP. Returns the users awarded (0 for
    a raid not settled, already awarded, or without points)."""
    community_check(tenant)
    with tenant_context(tenant), transaction.atomic():
        locked = Raid.objects.select_for_update().get(pk=raid.pk)
        if locked.status != Raid.Status.SETTLED:
            return 0
        if entry_list(
            tenant=tenant, action=AWARDED, target_type="raid", target_id=str(locked.pk)
        ).exists():
            return 0
        config = group_config_load(tenant=tenant, chat_id=locked.chat_id)
        if config is None:  # the group was unbound: no board to feed
            return 0
        day = config.today(locked.settled_at or timezone.now())
        awards = [
            (user_id, points, "")
            for user_id, points in Participant.objects.filter(
                raid=locked, status=Participant.Status.ACTIVE, points__gt=0
            )
            .order_by("user_id")
            .values_list("user_id", "points")
        ]
        awarded = xp_award_many(tenant=tenant, chat_id=locked.chat_id, day=day, awards=awards)
        history.record(
            action=AWARDED,
            actor=actor,
            tenant=tenant,
            target=("raid", locked.pk),
            data={
                "chat_id": locked.chat_id,
                "day": day.isoformat(),
                "users": awarded,
                "xp": sum(p for _, p, _ in awards),
            },
        )
    logger.info(
        "raids.raid_points_awarded",
        extra={"tenant": tenant.slug, "raid_id": raid.pk, "users": awarded},
    )
    return awarded
