"""The participants' API: the raids to join, joining (201, then 200), one's progress and
one's raids; refusals with their reason; another community's users reach none of it."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from raids.models import Participant, Raid
from tests.helpers import TenantClient
from xclient.models import XLink


def client_of(scene, user) -> TenantClient:
    return TenantClient(scene.tenant, user_id=user.telegram_id, username=f"u{user.telegram_id}")


def test_a_linked_member_lists_joins_and_follows_a_raid(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene)
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    client = client_of(raid_scene, alice)
    listed = client.get("/api/v1/raids").json()["results"]
    assert [r["id"] for r in listed] == [raid.pk]
    assert client.get("/api/v1/raids", {"status": "settled"}).json()["results"] == []

    assert client.get(f"/api/v1/raids/{raid.pk}/progress").json()["code"] == "not_joined"
    joined = client.post(f"/api/v1/raids/{raid.pk}/join")
    assert joined.status_code == 201, joined.json()
    data = joined.json()
    assert data["x_username"] == alice_x["username"] and data["role"] == "member"
    assert [(t["kind"], t["status"]) for t in data["tasks"]] == [
        ("repost", "pending"),
        ("like", "pending"),
    ]
    assert client.post(f"/api/v1/raids/{raid.pk}/join").status_code == 200
    progress = client.get(f"/api/v1/raids/{raid.pk}/progress").json()
    assert progress["raid"]["id"] == raid.pk and len(progress["tasks"]) == 2
    mine = client.get("/api/v1/me/raids").json()["results"]
    assert [(m["raid"]["id"], m["points"]) for m in mine] == [(raid.pk, 0)]


def test_a_refusal_says_why_and_writes_nothing(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene)
    alice, _ = linked(raid_scene, raid_x, "alice")
    XLink.objects.filter(user=alice).update(confirmed=False)
    client = client_of(raid_scene, alice)
    # initData signed by the community's own bot: only its word for who this is.
    answer = client.post(f"/api/v1/raids/{raid.pk}/join")
    assert (answer.status_code, answer.json()["code"]) == (403, "link_unconfirmed")
    XLink.objects.filter(user=alice).delete()
    answer = client.post(f"/api/v1/raids/{raid.pk}/join")
    assert (answer.status_code, answer.json()["code"]) == (403, "not_linked")
    assert answer.json()["detail"]
    assert client.post("/api/v1/raids/424242/join").json()["code"] == "raid_not_found"
    with tenant_context(raid_scene.tenant):
        assert not Participant.objects.exists()
        assert Raid.objects.get(pk=raid.pk).participants_count == 0


def test_another_communitys_user_cannot_join_or_read_its_raids(
    raid_scene, raid_x, make_raid, linked, make_tenant
):
    raid = make_raid(raid_scene)
    alice, _ = linked(raid_scene, raid_x, "alice")
    other = make_tenant()
    theirs = TenantClient(other, user_id=alice.telegram_id, username="alice")
    assert theirs.post(f"/api/v1/raids/{raid.pk}/join").status_code == 404
    assert theirs.get(f"/api/v1/raids/{raid.pk}/progress").status_code == 404
    assert theirs.get("/api/v1/raids").json()["results"] == []
    with tenant_context(raid_scene.tenant):
        assert not Participant.objects.exists()
