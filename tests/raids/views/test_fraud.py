"""The anti-fraud API: raid managers page through the open flags with their participant
and raid, dismiss or uphold one with a note (audited), and keep the blocklist; members
are refused; bad input is a 4xx with detail and code and writes nothing; another
community's admin reads and decides nothing of this community's."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from history.models import Entry
from history.services import SYSTEM
from raids.models import Blocked, Flag
from raids.services.fraud import blocked_add, fraud_scan
from tests.raids.helpers import join

FLAGS = "/api/v1/raids/flags"
BLOCKLIST = "/api/v1/raids/blocklist"
ADMIN_ID = 7_399_101


@pytest.fixture
def admin(raid_scene, user_with_role, client_for):
    user_with_role(raid_scene.tenant, "admin", user_id=ADMIN_ID, username="admin")
    return client_for(raid_scene.tenant, user_id=ADMIN_ID, username="admin")


@pytest.fixture
def flagged(raid_scene, raid_x, linked, make_raid):
    """A raid with two young accounts (flagged, excluded) and an old one."""
    scene = raid_scene
    raid = make_raid(scene, title="Launch")
    people = [linked(scene, raid_x, name, age_days=1) for name in ("young", "newbie")]
    people.append(linked(scene, raid_x, "old"))
    for user, account in people:
        join(scene, raid, user, account)
    fraud_scan(tenant=scene.tenant, raid=raid)
    return raid, people


def test_the_queue_lists_open_flags_with_participant_and_raid(admin, flagged):
    raid, [(young, young_x), (newbie, _), _] = flagged
    body = admin.get(FLAGS, {"page_size": 1}).json()
    [first] = body["results"]
    assert body["next"]
    [second] = admin.get(body["next"]).json()["results"]
    assert {first["user_id"], second["user_id"]} == {young.telegram_id, newbie.telegram_id}
    row = first if first["user_id"] == young.telegram_id else second
    assert (row["reason"], row["status"], row["platform_wide"]) == (
        "account_young",
        "open",
        False,
    )
    assert row["detail"].startswith(f"X account @{young_x['username']} is 1 days old")
    assert row["raid"] == {
        "id": raid.pk,
        "title": "Launch",
        "post_url": raid.post_url,
        "status": "active",
    }
    assert row["participant"]["x_user_id"] == young_x["id"]
    assert row["participant"]["status"] == "excluded"
    assert admin.get(FLAGS, {"raid": raid.pk + 1}).json()["results"] == []
    assert admin.get(FLAGS, {"status": "dismissed"}).json()["results"] == []


def test_dismiss_and_uphold_with_a_note_are_audited(raid_scene, admin, flagged):
    _, [(young, _), (newbie, _), _] = flagged
    ids = {row["user_id"]: row["id"] for row in admin.get(FLAGS).json()["results"]}
    answer = admin.post(
        f"{FLAGS}/{ids[young.telegram_id]}/dismiss", {"note": "I know her"}, format="json"
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["status"], body["note"], body["reviewed_by"]) == (
        "dismissed",
        "I know her",
        ADMIN_ID,
    )
    assert body["participant"]["status"] == "active"
    upheld = admin.post(f"{FLAGS}/{ids[newbie.telegram_id]}/uphold", {}, format="json")
    assert (upheld.status_code, upheld.json()["participant"]["status"]) == (200, "excluded")
    entry = Entry.objects.get(tenant=raid_scene.tenant, action="raids.flag_dismissed")
    assert (entry.actor_id, entry.data["note"]) == (str(ADMIN_ID), "I know her")
    assert admin.get(FLAGS).json()["results"] == []
    assert len(admin.get(FLAGS, {"status": "all"}).json()["results"]) == 2

    again = admin.post(f"{FLAGS}/{ids[young.telegram_id]}/uphold", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "flag_decided")


def test_the_blocklist_adds_lists_and_removes(raid_scene, admin):
    added = admin.post(BLOCKLIST, {"x_user_id": "1234567890123", "reason": "farm"}, format="json")
    assert added.status_code == 201, added.json()
    body = added.json()
    assert (body["x_user_id"], body["user_id"], body["created_by"]) == (
        "1234567890123",
        None,
        ADMIN_ID,
    )
    assert [row["id"] for row in admin.get(BLOCKLIST).json()["results"]] == [body["id"]]
    twice = admin.post(BLOCKLIST, {"x_user_id": "1234567890123"}, format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "already_blocked")
    assert admin.delete(f"{BLOCKLIST}/{body['id']}").status_code == 204
    assert admin.delete(f"{BLOCKLIST}/{body['id']}").json()["code"] == "blocked_not_found"
    actions = Entry.objects.filter(tenant=raid_scene.tenant, action__startswith="raids.blocked_")
    assert sorted(actions.values_list("action", flat=True)) == [
        "raids.blocked_added",
        "raids.blocked_removed",
    ]


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        ("post", BLOCKLIST, {}, "invalid"),
        ("post", BLOCKLIST, {"user_id": "abc"}, "invalid"),
        ("post", BLOCKLIST, {"user_id": 0}, "min_value"),
        ("post", BLOCKLIST, {"x_user_id": 12}, "invalid"),  # a string, as X ids are
        ("post", BLOCKLIST, {"x_user_id": "99999999999999999999"}, "invalid"),
        ("post", BLOCKLIST, {"user_id": 5, "reason": "x" * 301}, "max_length"),
        ("post", BLOCKLIST, {"user_id": 5, "why": "typo"}, "unknown_field"),
        ("post", f"{FLAGS}/1/dismiss", {"note": "x" * 301}, "max_length"),
        ("post", f"{FLAGS}/1/uphold", {"notes": "typo"}, "unknown_field"),
        ("get", FLAGS, {"status": "pending"}, "invalid"),
        ("get", FLAGS, {"raid": "abc"}, "invalid"),
    ],
)
def test_bad_input_is_refused_with_a_code_and_writes_nothing(
    raid_scene, admin, flagged, method, path, body, code
):
    if method == "post":
        answer = admin.post(path, body, format="json")
    else:
        answer = admin.get(path, body)
    assert answer.status_code == 400, answer.json()
    assert answer.json()["code"] == code and answer.json()["detail"]
    with tenant_context(raid_scene.tenant):
        assert not Blocked.objects.exists()
        assert set(Flag.objects.values_list("status", flat=True)) == {"open"}
    assert not Entry.objects.filter(
        tenant=raid_scene.tenant, action__in=["raids.blocked_added", "raids.flag_dismissed"]
    ).exists()


def test_members_are_refused(raid_scene, user_with_role, client_for, flagged):
    user_with_role(raid_scene.tenant, "member", user_id=7_399_102, username="member")
    member = client_for(raid_scene.tenant, user_id=7_399_102, username="member")
    assert member.get(FLAGS).status_code == 403
    assert member.post(BLOCKLIST, {"user_id": 5}, format="json").status_code == 403


def test_another_communitys_admin_reaches_nothing(
    raid_scene, admin, flagged, make_tenant, user_with_role, client_for
):
    other = make_tenant()
    user_with_role(other, "owner", user_id=7_399_201, username="intruder")
    intruder = client_for(other, user_id=7_399_201, username="intruder")
    blocked = blocked_add(
        tenant=raid_scene.tenant,
        user_id=5,
        actor=SYSTEM,
    )
    flag_ids = [row["id"] for row in admin.get(FLAGS).json()["results"]]
    assert intruder.get(FLAGS).json()["results"] == []
    assert intruder.get(BLOCKLIST).json()["results"] == []
    for flag_id in flag_ids:
        for decision in ("dismiss", "uphold"):
            answer = intruder.post(f"{FLAGS}/{flag_id}/{decision}", {}, format="json")
            assert (answer.status_code, answer.json()["code"]) == (404, "flag_not_found")
    gone = intruder.delete(f"{BLOCKLIST}/{blocked.pk}")
    assert (gone.status_code, gone.json()["code"]) == (404, "blocked_not_found")
    # Tenant A's own admin on tenant A's domain still sees them all, undecided.
    rows = admin.get(FLAGS).json()["results"]
    assert sorted(row["id"] for row in rows) == sorted(flag_ids)
    assert [row["id"] for row in admin.get(BLOCKLIST).json()["results"]] == [blocked.pk]
