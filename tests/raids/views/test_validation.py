"""Validation on demand: a raids manager runs a pass and reads its counts; a second call
within the interval is refused with 429 and ``retry_after``; a closed or unknown raid is
refused with nothing written; members and another community's admins reach nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from history.models import Entry
from raids.models import Raid, Result
from tests.raids.helpers import join


@pytest.fixture
def admin(raid_scene, user_with_role, client_for):
    user_with_role(raid_scene.tenant, "admin", user_id=8301, username="raidadmin")
    return client_for(raid_scene.tenant, user_id=8301, username="raidadmin")


def url(raid) -> str:
    return f"/api/v1/raids/{raid.pk}/validate"


def test_a_manager_validates_now_then_waits(raid_scene, raid_x, make_raid, linked, admin):
    raid = make_raid(raid_scene)
    user, account = linked(raid_scene, raid_x, "ann")
    join(raid_scene, raid, user, account)
    raid_x.repost(account["username"], raid_x.target["id"])
    answer = admin.post(url(raid), format="json")
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["verified"], body["pending"], body["final"]) == (1, 1, False)
    assert body["calls_by_endpoint"] == {
        "GET /2/tweets/:id/retweeted_by": 1,
        "GET /2/tweets/:id/liking_users": 1,
    }
    assert Entry.objects.filter(
        tenant=raid_scene.tenant, action="raids.validation_requested", actor_id="8301"
    ).exists()
    calls = len(raid_x.calls())
    again = admin.post(url(raid), format="json")
    assert again.status_code == 429
    assert again.json()["code"] == "validation_throttled"
    assert 0 < again.json()["retry_after"] <= 60
    assert again["Retry-After"] == str(again.json()["retry_after"])
    assert len(raid_x.calls()) == calls  # refused before reaching X


def test_closed_or_unknown_raids_are_refused_with_nothing_written(
    raid_scene, raid_x, make_raid, admin
):
    raid = make_raid(raid_scene)
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(status=Raid.Status.CANCELLED)
    closed = admin.post(url(raid), format="json")
    assert closed.status_code == 409
    assert closed.json()["code"] == "raid_not_open" and closed.json()["detail"]
    missing = admin.post("/api/v1/raids/424242/validate", format="json")
    assert missing.status_code == 404 and missing.json()["code"] == "raid_not_found"
    assert not Entry.objects.filter(action="raids.validation_requested").exists()
    with tenant_context(raid_scene.tenant):
        assert not Result.objects.exists()
    assert raid_x.calls() == []


def test_members_and_other_communities_reach_nothing(
    raid_scene, make_raid, user_with_role, client_for, make_tenant, raid_x
):
    other = make_tenant()
    raid = make_raid(raid_scene)
    user_with_role(raid_scene.tenant, "member", user_id=8302, username="member")
    member = client_for(raid_scene.tenant, user_id=8302, username="member")
    assert member.post(url(raid), format="json").status_code == 403
    user_with_role(other, "admin", user_id=8303, username="otheradmin")
    outsider = client_for(other, user_id=8303, username="otheradmin")
    answer = outsider.post(url(raid), format="json")
    assert answer.status_code == 404  # tenant B's schema has no such raid
    assert raid_x.calls() == []
    assert not Entry.objects.filter(action="raids.validation_requested").exists()
