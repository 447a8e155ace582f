"""The giveaway API: an admin opens a giveaway, members enter it (Telegram confirming
membership), the admin draws it once due and anyone reads the published draw; bad
input is refused with nothing written; another community reaches nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from raids.giveaways import verify
from raids.models import Giveaway
from tests.raids.helpers import GROUP_FUNDS
from wallet.services.ledger import account_get_or_create


def _url(scene, suffix: str = "") -> str:
    return f"/api/v1/groups/{scene.chat_id}/giveaways{suffix}"


@pytest.fixture
def owner(raid_scene, client_for):
    return client_for(raid_scene.tenant, user_id=raid_scene.owner["id"], username="olga")


def _group_balance(scene) -> int:
    return account_get_or_create(
        tenant=scene.tenant,
        owner_kind="group",
        owner_id=scene.chat_id,
        currency="USDT",
        kind="available",
    ).balance


def test_open_enter_draw_and_read_the_published_draw(raid_scene, raid_x, linked, owner, client_for):
    opened = owner.post(
        _url(raid_scene),
        {
            "title": "Launch",
            "pool_amount": 6_000_000,
            "winners": 2,
            "draw_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "x_linked": True,
        },
        format="json",
    )
    assert opened.status_code == 201, opened.json()
    body = opened.json()
    assert body["status"] == "open" and len(body["commitment"]) == 64 and body["result"] == {}
    assert "secret" not in body
    giveaway_id = body["id"]

    members = [linked(raid_scene, raid_x, name)[0] for name in ("ann", "ben", "cat")]
    for member in members:
        client = client_for(raid_scene.tenant, user_id=member.telegram_id, username="m")
        entered = client.post(_url(raid_scene, f"/{giveaway_id}/enter"))
        assert entered.status_code == 201, entered.json()
    again = client.post(_url(raid_scene, f"/{giveaway_id}/enter"))
    assert (again.status_code, again.json()["code"]) == (409, "already_entered")

    early = owner.post(_url(raid_scene, f"/{giveaway_id}/draw"))
    assert (early.status_code, early.json()["code"]) == (409, "draw_not_due")
    with tenant_context(raid_scene.tenant):
        Giveaway.objects.filter(pk=giveaway_id).update(
            draw_at=datetime.now(UTC) - timedelta(seconds=1)
        )
    drawn = owner.post(_url(raid_scene, f"/{giveaway_id}/draw"))
    assert drawn.status_code == 200, drawn.json()
    # Any user of the community reads the published draw and can re-run it.
    seen = client.get(_url(raid_scene, f"/{giveaway_id}")).json()
    assert seen["status"] == "drawn" and seen["entrants"] == 3
    assert verify(seen["result"]).ok
    assert len(seen["result"]["winners"]) == 2
    listed = client.get(_url(raid_scene) + "?status=drawn").json()["results"]
    assert [g["id"] for g in listed] == [giveaway_id]


def test_a_non_member_entering_is_refused_with_the_reason(
    raid_scene, raid_x, linked, make_giveaway, client_for
):
    giveaway = make_giveaway(raid_scene, members_only=True)
    outsider, _ = linked(raid_scene, raid_x, "out", member=False)
    client = client_for(raid_scene.tenant, user_id=outsider.telegram_id, username="out")
    refused = client.post(_url(raid_scene, f"/{giveaway.pk}/enter"))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_member")
    with tenant_context(raid_scene.tenant):
        assert not giveaway.entries.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"title": "x", "pool_amount": 10, "winners": 0}, "min_value"),
        ({"title": "x", "pool_amount": 10, "winners": 1, "odds": 3}, "unknown_field"),
        ({"title": "x", "pool_amount": 1, "winners": 2}, "invalid"),
        ({"title": "x", "pool_amount": 10, "winners": 1, "currency": "XYZ"}, None),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(raid_scene, owner, body, code):
    body = {"draw_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(), **body}
    refused = owner.post(_url(raid_scene), body, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["detail"] and refused.json()["code"]
    if code:
        assert refused.json()["code"] == code
    with tenant_context(raid_scene.tenant):
        assert not Giveaway.objects.exists()
    assert _group_balance(raid_scene) == GROUP_FUNDS


def test_a_member_cannot_create_cancel_or_draw(
    raid_scene, raid_x, linked, make_giveaway, client_for
):
    giveaway = make_giveaway(raid_scene)
    member, _ = linked(raid_scene, raid_x, "mo")
    client = client_for(raid_scene.tenant, user_id=member.telegram_id, username="mo")
    assert client.post(_url(raid_scene), {}, format="json").status_code == 403
    assert client.post(_url(raid_scene, f"/{giveaway.pk}/cancel")).status_code == 403
    assert client.post(_url(raid_scene, f"/{giveaway.pk}/draw")).status_code == 403


def test_another_communitys_admin_reaches_nothing(
    raid_scene, make_giveaway, make_tenant, user_with_role, client_for, owner
):
    other = make_tenant()  # in the public schema, before any request
    giveaway = make_giveaway(raid_scene, pool=2_000_000)
    user_with_role(other, "owner", user_id=8_400_001, username="eve")
    eve_home = client_for(other, user_id=8_400_001, username="eve")
    # On her own domain, tenant A's group and giveaway do not exist.
    for response in (
        eve_home.get(_url(raid_scene)),
        eve_home.get(_url(raid_scene, f"/{giveaway.pk}")),
        eve_home.post(_url(raid_scene, f"/{giveaway.pk}/cancel")),
        eve_home.post(_url(raid_scene, f"/{giveaway.pk}/draw")),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    # On tenant A's domain she holds no capability.
    eve_there = client_for(raid_scene.tenant, user_id=8_400_001, username="eve")
    assert eve_there.post(_url(raid_scene, f"/{giveaway.pk}/cancel")).status_code == 403
    # A giveaway id of another group of the same tenant is not found through this one.
    assert owner.get(f"/api/v1/groups/-1009999/giveaways/{giveaway.pk}").status_code == 404
    with tenant_context(raid_scene.tenant):
        assert Giveaway.objects.get(pk=giveaway.pk).status == "open"
    assert _group_balance(raid_scene) == GROUP_FUNDS - 2_000_000


def test_cancel_returns_the_pool(raid_scene, make_giveaway, owner):
    giveaway = make_giveaway(raid_scene, pool=2_000_000)
    cancelled = owner.post(_url(raid_scene, f"/{giveaway.pk}/cancel"))
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert _group_balance(raid_scene) == GROUP_FUNDS
