"""The raid managers' API: create (201, or 200 for the same idempotency key), list, detail
with per-task counts, cancel; bad input answered 400 with nothing written; another
community's admin reaches none of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from raids.models import Raid, Result
from tests.helpers import TenantClient
from tests.raids.helpers import CURRENCY, GROUP_FUNDS, join
from wallet.models import Hold
from wallet.selectors import balances


def owner_client(scene) -> TenantClient:
    return TenantClient(scene.tenant, user_id=scene.owner["id"], username=scene.owner["username"])


def body(x, **overrides):
    ends = timezone.now() + timedelta(hours=2)
    data = {
        "post_url": f"https://x.com/project/status/{x.target['id']}",
        "tasks": [
            {"kind": "repost", "points": 10},
            {"kind": "reply", "points": 10, "required_words": ["v2"], "min_length": 5},
            {"kind": "quote", "points": 30, "role": "kol"},
        ],
        "ends_at": ends.isoformat(),
        "currency": CURRENCY,
        "pool_amount": 5_000_000,
    }
    data.update(overrides)
    return data


def available(scene) -> int:
    return balances(tenant=scene.tenant, owner_kind="group", owner_id=scene.chat_id)[CURRENCY][
        "available"
    ]


def test_an_admin_creates_lists_reads_and_cancels_a_raid(raid_scene, raid_x, linked):
    client = owner_client(raid_scene)
    url = f"/api/v1/groups/{raid_scene.chat_id}/raids"
    created = client.post(url, body(raid_x, idempotency_key="k1"), format="json")
    assert created.status_code == 201, created.json()
    raid = created.json()
    assert raid["status"] == "active" and raid["post_author_username"] == "project"
    assert raid["post_id"] == raid_x.target["id"]
    assert [t["kind"] for t in raid["tasks"]] == ["repost", "reply", "quote"]
    assert raid["tasks"][1]["params"] == {"required_words": ["v2"], "min_length": 5}
    again = client.post(url, body(raid_x, idempotency_key="k1"), format="json")
    assert (again.status_code, again.json()["id"]) == (200, raid["id"])
    assert available(raid_scene) == GROUP_FUNDS - 5_000_000

    listed = client.get(url).json()["results"]
    assert [r["id"] for r in listed] == [raid["id"]]
    assert client.get(url, {"status": "cancelled"}).json()["results"] == []

    alice, alice_x = linked(raid_scene, raid_x, "alice")
    with tenant_context(raid_scene.tenant):
        stored = Raid.objects.get(pk=raid["id"])
        participant = join(raid_scene, stored, alice, alice_x)
        repost = stored.tasks.get(kind="repost")
        Result.objects.create(participant=participant, task=repost, status="verified")
        Result.objects.create(
            participant=participant, task=stored.tasks.get(kind="reply"), status="pending"
        )
    detail = client.get(f"/api/v1/raids/{raid['id']}").json()
    assert detail["participants_count"] == 1
    counts = {t["kind"]: (t["verified"], t["pending"]) for t in detail["tasks"]}
    assert counts == {"repost": (1, 0), "reply": (0, 1), "quote": (0, 0)}

    cancelled = client.post(f"/api/v1/raids/{raid['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert available(raid_scene) == GROUP_FUNDS
    again = client.post(f"/api/v1/raids/{raid['id']}/cancel")
    assert (again.status_code, again.json()["code"]) == (409, "raid_not_cancellable")


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"tasks": [{"kind": "like", "points": 0}]}, "min_value"),
        ({"tasks": []}, "min_length"),
        ({"tasks": [{"kind": "like", "points": 1, "colour": "red"}]}, "unknown_field"),
        ({"post_url": "https://example.com/project/status/1"}, "invalid_post_url"),
        ({"pool_amount": GROUP_FUNDS + 1}, "insufficient_funds"),
        ({"currency": "DOGE"}, "invalid"),
        ({"formula": "fixed"}, "invalid"),
        ({"ends_at": "2020-01-01T00:00:00Z"}, "invalid"),
        ({"surprise": 1}, "unknown_field"),
    ],
)
def test_bad_input_is_refused_with_detail_and_code_and_writes_nothing(
    raid_scene, raid_x, overrides, code
):
    answer = owner_client(raid_scene).post(
        f"/api/v1/groups/{raid_scene.chat_id}/raids", body(raid_x, **overrides), format="json"
    )
    assert 400 <= answer.status_code < 500
    data = answer.json()
    assert data["code"] == code and data["detail"], data
    with tenant_context(raid_scene.tenant):
        assert not Raid.objects.exists()
    assert not Hold.objects.filter(tenant=raid_scene.tenant).exists()
    assert available(raid_scene) == GROUP_FUNDS


def test_a_member_without_manage_raids_is_refused(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene)
    alice, _ = linked(raid_scene, raid_x, "alice")
    client = TenantClient(raid_scene.tenant, user_id=alice.telegram_id, username="alice")
    assert client.post(f"/api/v1/raids/{raid.pk}/cancel").status_code == 403
    assert client.get(f"/api/v1/groups/{raid_scene.chat_id}/raids").status_code == 403
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.ACTIVE


def test_another_communitys_admin_reaches_none_of_its_raids(
    raid_scene, make_tenant, raid_x, make_raid, tg
):
    raid = make_raid(raid_scene)
    intruder = tg.add_user(7_399_999, "Ivan", username="ivan")
    other = make_tenant(owner_telegram_id=intruder["id"])
    theirs = TenantClient(other, user_id=intruder["id"], username="ivan")
    # On their own domain: the raid and the group are not theirs.
    assert theirs.get(f"/api/v1/raids/{raid.pk}").json()["code"] == "raid_not_found"
    assert theirs.post(f"/api/v1/raids/{raid.pk}/cancel").status_code == 404
    answer = theirs.post(f"/api/v1/groups/{raid_scene.chat_id}/raids", body(raid_x), format="json")
    assert (answer.status_code, answer.json()["code"]) == (404, "group_not_found")
    assert theirs.get(f"/api/v1/groups/{raid_scene.chat_id}/raids").status_code == 404
    # On the victim's domain, initData signed by their own bot proves nothing.
    theirs.defaults["HTTP_HOST"] = raid_scene.tenant.domains.first().domain
    assert theirs.post(f"/api/v1/raids/{raid.pk}/cancel").status_code == 401
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.ACTIVE
    assert Hold.objects.get(pk=raid.hold_id).status == Hold.Status.OPEN
