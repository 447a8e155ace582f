import pytest

from accounts.models import Membership
from accounts.services import membership_set_role
from history.models import Entry


@pytest.fixture
def team(make_tenant, user_with_role):
    """A tenant with an owner (1), an admin (2), a moderator (3) and a member (4)."""
    tenant = make_tenant()
    users = {
        role: user_with_role(tenant, role, user_id=n, username=role)
        for n, role in enumerate(["owner", "admin", "moderator", "member"], start=1)
    }
    return tenant, users


def _client(client_for, tenant, user):
    return client_for(tenant, user_id=user.telegram_id, username=user.username)


def test_admin_list_shows_roles_and_effective_capabilities(
    team, client_for, make_tenant, user_with_role
):
    tenant, users = team
    user_with_role(make_tenant(), "admin", user_id=9, username="elsewhere")

    response = _client(client_for, tenant, users["admin"]).get("/api/v1/admins")

    assert response.status_code == 200
    rows = {r["telegram_id"]: r for r in response.json()["results"]}
    assert set(rows) == {1, 2, 3}  # no plain member, nobody from another tenant
    assert rows[1]["role"] == "owner" and "manage_bots" in rows[1]["capabilities"]
    assert rows[2]["role"] == "admin" and "manage_bots" not in rows[2]["capabilities"]
    assert rows[3]["capabilities"] == ["moderate", "view_analytics"]


def test_admin_list_needs_manage_settings(team, client_for):
    tenant, users = team
    assert _client(client_for, tenant, users["moderator"]).get("/api/v1/admins").status_code == 403


def test_owner_grants_and_revokes_capabilities(team, client_for):
    tenant, users = team
    client = _client(client_for, tenant, users["owner"])

    response = client.patch(
        "/api/v1/admins/3/capabilities",
        {"grant": ["manage_raids"], "revoke": ["view_analytics"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["capabilities"] == ["manage_raids", "moderate"]
    assert (body["granted"], body["revoked"]) == (["manage_raids"], ["view_analytics"])
    membership = Membership.objects.get(tenant=tenant, user=users["moderator"])
    assert membership.granted == ["manage_raids"]
    entry = Entry.objects.get(tenant=tenant, action="role.capabilities_changed")
    assert entry.actor_id == "1" and entry.target_id == "3"
    # The moderator now holds the granted capability in this tenant.
    me = _client(client_for, tenant, users["moderator"]).get("/api/v1/me").json()
    assert "manage_raids" in me["capabilities"] and "view_analytics" not in me["capabilities"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"grant": ["fly"]}, 400, "invalid_choice"),
        ({"revoke": ["manage_funds", "nope"]}, 400, "invalid_choice"),
        ({}, 400, "empty"),
        ({"grant": ["moderate"], "revoke": ["moderate"]}, 400, "conflicting_capabilities"),
    ],
)
def test_bad_capability_changes_are_refused(team, client_for, payload, status, code):
    tenant, users = team
    response = _client(client_for, tenant, users["owner"]).patch(
        "/api/v1/admins/2/capabilities", payload, format="json"
    )
    assert response.status_code == status
    assert response.json()["code"] == code
    membership = Membership.objects.get(tenant=tenant, user=users["admin"])
    assert (membership.granted, membership.revoked) == ([], [])


def test_unknown_user_or_user_of_another_tenant_is_404(
    team, client_for, make_tenant, user_with_role
):
    tenant, users = team
    user_with_role(make_tenant(), "admin", user_id=9, username="elsewhere")
    client = _client(client_for, tenant, users["owner"])
    for telegram_id in (424242, 9):
        response = client.patch(
            f"/api/v1/admins/{telegram_id}/capabilities", {"grant": ["moderate"]}, format="json"
        )
        assert response.status_code == 404
        assert response.json()["code"] == "user_not_found"


def test_capabilities_of_a_plain_member_cannot_be_changed(team, client_for):
    tenant, users = team
    # A member with a membership row (e.g. a former admin): known here, but not an admin.
    membership_set_role(tenant=tenant, user=users["member"], role="member")
    response = _client(client_for, tenant, users["owner"]).patch(
        "/api/v1/admins/4/capabilities", {"grant": ["moderate"]}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "not_an_admin"


@pytest.mark.parametrize("role", ["admin", "moderator", "member"])
def test_only_the_owner_changes_capabilities(team, client_for, role):
    tenant, users = team
    response = _client(client_for, tenant, users[role]).patch(
        "/api/v1/admins/3/capabilities", {"grant": ["manage_funds"]}, format="json"
    )
    assert response.status_code == 403
    assert Membership.objects.get(tenant=tenant, user=users["moderator"]).granted == []
