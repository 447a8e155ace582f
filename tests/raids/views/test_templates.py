"""The raid template API (``manage_raids``): an admin creates, lists, replaces and removes a
group's templates; bad input writes nothing; a member and another community's admin reach
nothing."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from raids.models import RaidTemplate
from tests.raids.helpers import CURRENCY

SPEC = {
    "tasks": [{"kind": "repost", "points": 10}],
    "duration_minutes": 60,
    "currency": CURRENCY,
    "pool_amount": 1_000_000,
    "formula": "points",
}


def _url(scene, suffix: str = "") -> str:
    return f"/api/v1/groups/{scene.chat_id}/raid-templates{suffix}"


@pytest.fixture
def owner(raid_scene, client_for):
    return client_for(raid_scene.tenant, user_id=raid_scene.owner["id"], username="olga")


def test_create_list_replace_and_remove(raid_scene, raid_x, owner):
    made = owner.post(
        _url(raid_scene), {"name": "launch", "username": "project", "spec": SPEC}, format="json"
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["x_user_id"] == str(raid_x.target["author_id"])
    assert body["username"] == "project"
    replaced = owner.post(_url(raid_scene), {"name": "launch", "spec": SPEC}, format="json")
    assert replaced.status_code == 200 and replaced.json()["x_user_id"] is None
    listed = owner.get(_url(raid_scene)).json()["results"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert owner.delete(_url(raid_scene, f"/{body['id']}")).status_code == 204
    gone = owner.delete(_url(raid_scene, f"/{body['id']}"))
    assert (gone.status_code, gone.json()["code"]) == (404, "template_not_found")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "spec": {**SPEC, "pool_amount": 0}}, "invalid"),
        ({"name": "x", "spec": "raid"}, "not_a_dict"),
        ({"name": "", "spec": SPEC}, "blank"),
        ({"name": "x", "spec": SPEC, "colour": "red"}, "unknown_field"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(raid_scene, raid_x, owner, body, code):
    refused = owner.post(_url(raid_scene), body, format="json")
    assert refused.status_code == 400, refused.json()
    assert refused.json()["code"] == code and refused.json()["detail"]
    with tenant_context(raid_scene.tenant):
        assert not RaidTemplate.objects.exists()


def test_a_member_and_another_communitys_admin_reach_nothing(
    raid_scene, raid_x, owner, make_tenant, user_with_role, client_for
):
    other = make_tenant()
    made = owner.post(_url(raid_scene), {"name": "launch", "spec": SPEC}, format="json").json()
    member = client_for(raid_scene.tenant, user_id=8_600_001, username="mia")
    assert member.get(_url(raid_scene)).status_code == 403
    assert member.delete(_url(raid_scene, f"/{made['id']}")).status_code == 403
    user_with_role(other, "owner", user_id=8_600_002, username="eve")
    eve = client_for(other, user_id=8_600_002, username="eve")
    for response in (
        eve.get(_url(raid_scene)),
        eve.delete(_url(raid_scene, f"/{made['id']}")),
        eve.post(_url(raid_scene), {"name": "mine", "spec": SPEC}, format="json"),
    ):
        assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    with tenant_context(raid_scene.tenant):
        assert list(RaidTemplate.objects.values_list("name", flat=True)) == ["launch"]
