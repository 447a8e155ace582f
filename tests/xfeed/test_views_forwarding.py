"""The forwarding API of a group: a settings manager lists, adds (the handle looked up on
the sandbox X), changes and removes the X accounts a group forwards; bad input is a 400
naming the field with nothing written; another community's admin reaches nothing of it,
also not by naming the group or the handle."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from xfeed.models import Forwarding


def url(chat: int, username: str | None = None) -> str:
    base = f"/api/v1/groups/{chat}/x/forwarding"
    return f"{base}/{username}" if username else base


@pytest.fixture
def admin(tenant, user_with_role, client_for):
    user_with_role(tenant, "admin", user_id=8201, username="admin")
    return client_for(tenant, user_id=8201, username="admin")


def test_an_admin_adds_changes_lists_and_removes_a_forwarding(tenant, admin, x, bound_group):
    chat = bound_group(tenant)
    added = admin.post(url(chat), {"username": "@project", "include_replies": True}, format="json")
    assert added.status_code == 200, added.json()
    body = added.json()
    assert (body["username"], body["name"]) == ("project", "The Project")
    assert (body["include_replies"], body["include_reposts"], body["include_quotes"]) == (
        True,
        False,
        False,
    )
    assert isinstance(body["x_user_id"], str) and int(body["x_user_id"]) > 0
    admin.post(url(chat), {"username": "founder"}, format="json")
    changed = admin.post(url(chat), {"username": "project", "include_reposts": True}, format="json")
    assert (changed.json()["id"], changed.json()["include_reposts"]) == (body["id"], True)
    listed = admin.get(url(chat)).json()
    assert [f["username"] for f in listed["results"]] == ["founder", "project"]  # newest first
    assert admin.delete(url(chat, "project")).status_code == 204
    assert [f["username"] for f in admin.get(url(chat)).json()["results"]] == ["founder"]
    gone = admin.delete(url(chat, "project"))
    assert (gone.status_code, gone.json()["code"]) == (404, "forwarding_not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "username"),
        ({"username": ""}, "username"),
        ({"username": "not a handle"}, "username"),
        ({"username": "nobody_at_all"}, "username"),  # X has no such account
        ({"username": "project", "include_replies": "maybe"}, "include_replies"),
        ({"username": "project", "reposts": True}, "reposts"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(tenant, admin, x, bound_group, payload, field):
    chat = bound_group(tenant)
    response = admin.post(url(chat), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"], response.json()
    with tenant_context(tenant):
        assert not Forwarding.objects.exists()


def test_an_unknown_group_is_a_404(tenant, admin, x):
    response = admin.post(url(-100999), {"username": "project"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "group_not_found")
    assert admin.get(url(-100999)).status_code == 404


def test_another_community_s_admin_reaches_nothing(
    make_tenant, user_with_role, client_for, x, bound_group
):
    a, b = make_tenant(), make_tenant()
    b_chat = bound_group(b)
    user_with_role(b, "admin", user_id=8202, username="b_admin")
    b_admin = client_for(b, user_id=8202, username="b_admin")
    assert b_admin.post(url(b_chat), {"username": "project"}, format="json").status_code == 200
    user_with_role(a, "admin", user_id=8203, username="a_admin")
    a_admin = client_for(a, user_id=8203, username="a_admin")
    # On A's own domain, B's group is no group of A's.
    assert a_admin.get(url(b_chat)).status_code == 404
    assert a_admin.post(url(b_chat), {"username": "founder"}, format="json").status_code == 404
    assert a_admin.delete(url(b_chat, "project")).status_code == 404
    # On B's domain, A's admin is nobody.
    stranger = client_for(b, user_id=8203, username="a_admin")
    assert stranger.get(url(b_chat)).status_code == 403
    assert stranger.delete(url(b_chat, "project")).status_code == 403
    with tenant_context(b):
        assert list(Forwarding.objects.values_list("account__username", flat=True)) == ["project"]
