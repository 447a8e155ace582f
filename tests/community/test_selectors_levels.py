"""``member_level``: a member's level in a group from the leaderboard's all-time XP (the
rolled-up totals and the days not rolled up yet), ``floor(sqrt(xp / 100))``."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from community.models import ActivityDay, ActivityTotal, Group, LeaderboardRollup
from community.selectors import level_of, member_level, member_xp
from config.errors import ServiceError
from tenancy.services import chat_bind

CHAT = -1_006_500_000_001


@pytest.mark.parametrize(
    ("xp", "level"), [(0, 0), (99, 0), (100, 1), (399, 1), (400, 2), (10_000, 10), (-5, 0)]
)
def test_each_level_takes_more_xp(xp, level):
    assert level_of(xp) == level


def test_the_level_counts_the_totals_and_the_days_not_rolled_up_yet(make_tenant):
    tenant = make_tenant()
    chat_bind(tenant=tenant, chat_id=CHAT)
    with tenant_context(tenant):
        group = Group.objects.create(chat_id=CHAT, bound_at=timezone.now())
        LeaderboardRollup.objects.create(rolled_through=date(2026, 11, 30))
        ActivityTotal.objects.create(group=group, user_id=7, xp=300, last_day=date(2026, 11, 30))
        # Folded into the total already, and not: only the later day counts again.
        ActivityDay.objects.create(group=group, user_id=7, day=date(2026, 11, 30), xp=300)
        ActivityDay.objects.create(group=group, user_id=7, day=date(2026, 12, 1), xp=100)
        ActivityDay.objects.create(group=group, user_id=8, day=date(2026, 12, 1), xp=10_000)
    assert member_xp(tenant=tenant, chat_id=CHAT, user_id=7) == 400
    assert member_level(tenant=tenant, chat_id=CHAT, user_id=7) == 2
    assert member_level(tenant=tenant, chat_id=CHAT, user_id=9) == 0
    with pytest.raises(ServiceError) as refused:
        member_level(tenant=tenant, chat_id=CHAT - 1, user_id=7)
    assert refused.value.code == "group_not_found"
