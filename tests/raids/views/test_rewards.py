"""The rewards API: a raid's results for its managers (paged), the published report
byte for byte with its SHA-256, a user's own rewards; bad input and another community's
admin are refused with nothing read."""

from __future__ import annotations

import hashlib

import pytest
from django_tenants.utils import tenant_context

from raids.services.settlement import raid_settle
from tests.raids.helpers import raid_ended

ADMIN = 8_301


@pytest.fixture
def settled(raid_scene, make_raid, scored):
    scene = raid_scene
    raid = make_raid(scene, pool=1_000_000, formula="points", title="Launch")
    people = [
        scored(scene, raid, "ann", 15, ("verified", "verified")),
        scored(scene, raid, "bob", 5, ("verified", "failed")),
        scored(scene, raid, "eve", 9, ("verified",), excluded=True),
    ]
    raid_settle(tenant=scene.tenant, raid=raid_ended(scene, raid))
    with tenant_context(scene.tenant):
        raid.refresh_from_db()
    return scene, raid, people


@pytest.fixture
def admin_of(user_with_role, client_for):
    def make(tenant, user_id=ADMIN):
        user_with_role(tenant, "admin", user_id=user_id, username=f"admin{user_id}")
        return client_for(tenant, user_id=user_id, username=f"admin{user_id}")

    return make


def test_results_list_each_participant_with_tally_and_payout_paged(settled, admin_of):
    scene, raid, (ann, bob, eve) = settled
    admin = admin_of(scene.tenant)
    first = admin.get(f"/api/v1/raids/{raid.pk}/results?page_size=2")
    assert first.status_code == 200, first.json()
    body = first.json()
    assert [r["user_id"] for r in body["results"]] == [ann.user_id, bob.user_id]
    assert body["results"][0] | {"joined_at": None, "notified_at": None} == {
        "id": ann.pk,
        "user_id": ann.user_id,
        "x_user_id": str(ann.x_user_id),
        "x_username": ann.x_username,
        "role": "member",
        "status": "active",
        "joined_at": None,
        "points": 15,
        "verified": 2,
        "unverifiable": 0,
        "failed": 0,
        "pending": 0,
        "payout": 750_000,
        "amount": "0.75",
        "currency": "USDT",
        "notified_at": None,
    }
    rest = admin.get(body["next"]).json()["results"]
    assert [(r["user_id"], r["status"], r["payout"]) for r in rest] == [
        (eve.user_id, "excluded", 0)
    ]


def test_the_report_is_served_byte_for_byte_with_its_digest(settled, client_for, user_with_role):
    scene, raid, (ann, _, _) = settled
    user_with_role(scene.tenant, "member", user_id=ann.user_id, username="ann")
    member = client_for(scene.tenant, user_id=ann.user_id, username="ann")
    response = member.get(f"/api/v1/raids/{raid.pk}/report.csv")
    assert response.status_code == 200
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert content == raid.report_csv.encode()
    assert response["X-Content-SHA256"] == hashlib.sha256(content).hexdigest()
    assert response["Content-Type"].startswith("text/csv")

    mine = member.get("/api/v1/me/rewards").json()["results"]
    assert [(r["raid_id"], r["payout"], r["amount"], r["currency"]) for r in mine] == [
        (raid.pk, 750_000, "0.75", "USDT")
    ]
    assert (mine[0]["title"], mine[0]["points"], mine[0]["verified"]) == ("Launch", 15, 2)


def test_no_report_before_settlement_and_unknown_raids_are_404(raid_scene, make_raid, admin_of):
    raid = make_raid(raid_scene)
    admin = admin_of(raid_scene.tenant)
    early = admin.get(f"/api/v1/raids/{raid.pk}/report.csv")
    assert (early.status_code, early.json()["code"]) == (409, "report_not_ready")
    assert early.json()["detail"]
    for url in (
        f"/api/v1/raids/{raid.pk + 99}/results",
        f"/api/v1/raids/{raid.pk + 99}/report.csv",
    ):
        missing = admin.get(url)
        assert (missing.status_code, missing.json()["code"]) == (404, "raid_not_found")
    bad = admin.get(f"/api/v1/raids/{raid.pk}/results?page_size=5000")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_page_size")
    assert admin.get("/api/v1/me/rewards").json()["results"] == []


def test_another_communitys_admin_reads_nothing_of_this_ones_raids(
    settled, make_tenant, admin_of, client_for
):
    scene, raid, _ = settled
    other = make_tenant()
    stranger = admin_of(other, user_id=8_302)
    # On their own domain the id names nothing (each community has its own table).
    for url in (f"/api/v1/raids/{raid.pk}/results", f"/api/v1/raids/{raid.pk}/report.csv"):
        answer = stranger.get(url)
        assert (answer.status_code, answer.json()["code"]) == (404, "raid_not_found")
    # On this community's domain they hold no role: refused before any lookup.
    here = client_for(scene.tenant, user_id=8_302, username="admin8302")
    assert here.get(f"/api/v1/raids/{raid.pk}/results").status_code == 403
    # Their own rewards there are theirs only.
    assert stranger.get("/api/v1/me/rewards").json()["results"] == []
