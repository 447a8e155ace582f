"""Raid points feed the community leaderboards, once per settled raid."""

from __future__ import annotations

from datetime import UTC, datetime

from django_tenants.utils import tenant_context

from community.selectors import leaderboard_top
from history.models import Entry as HistoryEntry
from raids.models import Raid
from raids.services.leaderboard import raid_points_award


def _board(scene) -> dict[int, int]:
    board = leaderboard_top(tenant=scene.tenant, chat_id=scene.chat_id, period="day")
    return {e.user_id: e.xp for e in board.entries}


def test_a_settled_raids_points_reach_the_board_exactly_once(
    raid_scene, raid_x, linked, raid_points
):
    alice, _ = linked(raid_scene, raid_x, "alice")
    raid = raid_points(raid_scene, alice, 35, settled_at=datetime.now(UTC))
    assert raid_points_award(tenant=raid_scene.tenant, raid=raid) == 1
    assert raid_points_award(tenant=raid_scene.tenant, raid=raid) == 0
    assert _board(raid_scene) == {alice.telegram_id: 35}
    assert (
        HistoryEntry.objects.filter(
            action="raids.raid_points_awarded", target_id=str(raid.pk)
        ).count()
        == 1
    )


def test_a_raid_not_settled_awards_nothing(raid_scene, make_raid, raid_x, linked):
    raid = make_raid(raid_scene)
    assert raid_points_award(tenant=raid_scene.tenant, raid=raid) == 0
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == "active"
    assert _board(raid_scene) == {}
