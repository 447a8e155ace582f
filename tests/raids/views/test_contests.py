"""The contest API: an admin opens a contest, anyone reads live standings, then the
stored final table; bad input writes nothing; another community reaches nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from community.services.leaderboard import xp_award
from raids.models import Contest
from raids.services.contests import contest_settle


def _url(scene, suffix: str = "") -> str:
    return f"/api/v1/groups/{scene.chat_id}/contests{suffix}"


@pytest.fixture
def owner(raid_scene, client_for):
    return client_for(raid_scene.tenant, user_id=raid_scene.owner["id"], username="olga")


def _window() -> dict:
    now = datetime.now(UTC)
    return {
        "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=1)).isoformat(),
    }


def test_open_read_live_standings_then_the_final_table(raid_scene, owner, client_for):
    opened = owner.post(
        _url(raid_scene), {"title": "Week", "prizes": [300, 100], **_window()}, format="json"
    )
    assert opened.status_code == 201, opened.json()
    contest_id = opened.json()["id"]
    for user_id, xp in ((1, 5), (2, 9)):
        xp_award(
            tenant=raid_scene.tenant,
            chat_id=raid_scene.chat_id,
            user_id=user_id,
            xp=xp,
            day=datetime.now(UTC).date(),
        )
    reader = client_for(raid_scene.tenant, user_id=8_500_001, username="reader")
    live = reader.get(_url(raid_scene, f"/{contest_id}")).json()
    assert not live["final"]
    assert [(s["user_id"], s["xp"], s["prize"]) for s in live["standings"]] == [
        (2, 9, 0),
        (1, 5, 0),
    ]
    with tenant_context(raid_scene.tenant):
        contest = Contest.objects.get(pk=contest_id)
    contest_settle(
        tenant=raid_scene.tenant, contest=contest, now=contest.ends_at + timedelta(seconds=1)
    )
    final = reader.get(_url(raid_scene, f"/{contest_id}")).json()
    assert final["final"] and final["status"] == "settled"
    assert [(s["user_id"], s["prize"]) for s in final["standings"]] == [(2, 300), (1, 100)]
    assert [c["id"] for c in reader.get(_url(raid_scene)).json()["results"]] == [contest_id]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "x", "prizes": []}, "min_length"),
        ({"title": "x", "prizes": [0]}, "min_value"),
        ({"title": "x", "prizes": [5], "ends_at": "2020-01-01T00:00:00Z"}, "invalid"),
        ({"title": "x", "prizes": [5], "bonus": 1}, "unknown_field"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(raid_scene, owner, body, code):
    refused = owner.post(_url(raid_scene), {**_window(), **body}, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["code"] == code and refused.json()["detail"]
    with tenant_context(raid_scene.tenant):
        assert not Contest.objects.exists()


def test_another_communitys_admin_reaches_nothing(
    raid_scene, owner, make_tenant, user_with_role, client_for
):
    other = make_tenant()  # in the public schema, before any request
    contest_id = owner.post(
        _url(raid_scene), {"title": "Week", "prizes": [300], **_window()}, format="json"
    ).json()["id"]
    user_with_role(other, "owner", user_id=8_500_002, username="eve")
    eve = client_for(other, user_id=8_500_002, username="eve")
    for response in (
        eve.get(_url(raid_scene)),
        eve.get(_url(raid_scene, f"/{contest_id}")),
        eve.post(_url(raid_scene, f"/{contest_id}/cancel")),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    eve_there = client_for(raid_scene.tenant, user_id=8_500_002, username="eve")
    assert eve_there.post(_url(raid_scene, f"/{contest_id}/cancel")).status_code == 403
    cancelled = owner.post(_url(raid_scene, f"/{contest_id}/cancel"))
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
