"""Every API operation has an access rule in tests/api_matrix.py, and every rule holds for
every role on a tenant domain."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import DEFAULT_CAPABILITIES, Capability, Role
from accounts.services import membership_set_capabilities
from history.services import Actor
from tenancy.models import Tenant
from tests.accounts.helpers import Operation, api_operation_index, api_operations
from tests.api_matrix import MATRIX, URL_KWARGS
from tests.helpers import TenantClient, init_data_for

ROLES = ("anonymous", "member", "moderator", "admin", "owner", "staff")
ROLE_USER_IDS = {"member": 6101, "moderator": 6102, "admin": 6103, "owner": 6104, "staff": 6105}


def expected_roles(rule: str) -> set[str]:
    """Which roles a matrix rule lets through (anonymous never)."""
    if rule == "authenticated":
        return set(ROLES) - {"anonymous"}
    if rule == "owner":
        return {"owner", "staff"}
    capability = Capability(rule)  # a typo in the matrix fails here
    return {role.value for role, caps in DEFAULT_CAPABILITIES.items() if capability in caps} | {
        "staff"
    }


def call(client: APIClient, op: Operation, kwargs: dict[str, Any] | None = None):
    url = op.url({**URL_KWARGS, **(kwargs or {})})
    if op.method == "GET":
        return client.get(url)
    return client.generic(op.method, url, "{}", content_type="application/json")


@pytest.fixture
def role_clients(tenant, user_with_role) -> dict[str, APIClient]:
    """A client per role on one tenant's domain."""
    anonymous = APIClient()
    anonymous.defaults["HTTP_HOST"] = tenant.domains.first().domain
    clients: dict[str, APIClient] = {"anonymous": anonymous}
    for role, user_id in ROLE_USER_IDS.items():
        user_with_role(tenant, role, user_id=user_id, username=f"{role}_user")
        clients[role] = TenantClient(tenant, user_id=user_id, username=f"{role}_user")
    return clients


def test_every_api_operation_has_a_matrix_row(db) -> None:
    operations = api_operations()
    assert operations, "no API operation found: is the URLconf loaded?"
    unnamed = sorted({op.route for op in operations if not op.name})
    assert not unnamed, f"API routes without a URL name (give them one): {unnamed}"
    missing = sorted({(op.name, op.method) for op in operations} - set(MATRIX))
    assert not missing, (
        f"API operations without an access rule in tests/api_matrix.py MATRIX: {missing}"
    )


def test_every_matrix_row_has_an_api_operation(db) -> None:
    served = set(api_operation_index())
    stale = sorted(set(MATRIX) - served)
    assert not stale, f"MATRIX rows with no such URL name and method: {stale}"


def test_every_url_parameter_has_a_sample_value(db) -> None:
    used = {name for op in api_operations() for name in op.kwarg_names}
    missing = sorted(used - set(URL_KWARGS))
    assert not missing, f"URL parameters with no sample in api_matrix.URL_KWARGS: {missing}"


def test_matrix_rules_are_known(db) -> None:
    for rule in set(MATRIX.values()):
        assert rule in {"authenticated", "owner"} or rule in set(Capability), rule


@pytest.mark.parametrize(
    ("name", "method"), sorted(MATRIX), ids=[f"{n}-{m}" for n, m in sorted(MATRIX)]
)
def test_operation_answers_each_role_per_its_rule(role_clients, name: str, method: str) -> None:
    op = api_operation_index().get((name, method))
    if op is None:
        pytest.fail(f"MATRIX lists {name} {method} but no such URL name/method is served")
    allowed = expected_roles(MATRIX[(name, method)])
    wrong = []
    for role in ROLES:
        status = call(role_clients[role], op).status_code
        if role == "anonymous":
            ok = status == 401
        elif role in allowed:
            ok = status not in (401, 403)
        else:
            ok = status == 403
        if not ok:
            wrong.append((role, status))
    assert not wrong, f"{method} {op.route} (rule {MATRIX[(name, method)]!r}): {wrong}"


def _capability_operations() -> list[tuple[Operation, Capability]]:
    served = api_operation_index()
    return [
        (served[key], Capability(rule))
        for key, rule in sorted(MATRIX.items())
        if key in served and rule not in {"authenticated", "owner"}
    ]


def test_revoking_a_capability_from_an_admin_denies_its_operations(
    tenant, user_with_role, client_for
) -> None:
    operations = _capability_operations()
    assert any(cap == Capability.VIEW_AUDIT for _, cap in operations), "no audit endpoint?"
    owner = user_with_role(tenant, "owner", user_id=6201)
    admin = user_with_role(tenant, "admin", user_id=6202)
    client = client_for(tenant, user_id=6202)
    # An admin holds every capability but manage_bots by default: grant it, so each
    # operation is open before its own capability is revoked.
    membership_set_capabilities(
        tenant=tenant, user=admin, grant=["manage_bots"], revoke=[], actor=Actor.user(owner)
    )
    for op, capability in operations:
        assert call(client, op).status_code not in (401, 403), (op, capability)
        membership_set_capabilities(
            tenant=tenant, user=admin, grant=[], revoke=[capability], actor=Actor.user(owner)
        )
        assert call(client, op).status_code == 403, (op, capability)
        assert capability not in client.get("/api/v1/me").json()["capabilities"]
        membership_set_capabilities(
            tenant=tenant, user=admin, grant=[capability], revoke=[], actor=Actor.user(owner)
        )
        assert call(client, op).status_code not in (401, 403), (op, capability)


def test_granting_a_capability_to_a_moderator_allows_its_operations(
    tenant, user_with_role, client_for
) -> None:
    owner = user_with_role(tenant, "owner", user_id=6301)
    moderator = user_with_role(tenant, "moderator", user_id=6302)
    client = client_for(tenant, user_id=6302)
    operations = [
        (op, cap)
        for op, cap in _capability_operations()
        if cap not in DEFAULT_CAPABILITIES[Role.MODERATOR]
    ]
    assert operations
    for op, _ in operations:
        assert call(client, op).status_code == 403, op
    granted: set[Capability] = set()
    for capability in sorted({cap for _, cap in operations}):
        membership_set_capabilities(
            tenant=tenant, user=moderator, grant=[capability], revoke=[], actor=Actor.user(owner)
        )
        granted.add(capability)
        # Each operation opens exactly when its own capability is granted.
        for op, needed in operations:
            status = call(client, op).status_code
            if needed in granted:
                assert status not in (401, 403), (op, granted)
            else:
                assert status == 403, (op, granted)


def test_granting_manage_bots_to_an_admin_shows_in_their_capabilities(
    tenant, user_with_role, client_for
) -> None:
    owner = user_with_role(tenant, "owner", user_id=6401)
    admin = user_with_role(tenant, "admin", user_id=6402)
    client = client_for(tenant, user_id=6402)
    assert "manage_bots" not in client.get("/api/v1/me").json()["capabilities"]
    membership_set_capabilities(
        tenant=tenant, user=admin, grant=["manage_bots"], revoke=[], actor=Actor.user(owner)
    )
    me = client.get("/api/v1/me").json()
    assert me["role"] == "admin"
    assert me["capabilities"] == sorted(Capability)


def test_capabilities_are_per_tenant(make_tenant, user_with_role, client_for) -> None:
    """An admin of one tenant is a plain member of another."""
    first, second = make_tenant(), make_tenant()
    user_with_role(first, "admin", user_id=6501)
    assert client_for(first, user_id=6501).get("/api/v1/audit").status_code == 200
    response = client_for(second, user_id=6501).get("/api/v1/audit")
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "code"}
    assert client_for(second, user_id=6501).get("/api/v1/me").json()["capabilities"] == []


def test_staff_on_the_public_domain_reads_platform_audit(db, settings, user_with_role) -> None:
    token = "7999999998:AAHplatformbottokenforthesuite654321"
    settings.PLATFORM_BOT_TOKEN = token
    public = Tenant.objects.get(schema_name="public")
    user_with_role(public, "staff", user_id=6601)
    user_with_role(public, "member", user_id=6602)
    client = APIClient()
    for user_id, status in ((6601, 200), (6602, 403)):
        header = "tma " + init_data_for(public, user_id=user_id, token=token)
        response = client.get("/api/v1/audit", HTTP_HOST="testserver", HTTP_AUTHORIZATION=header)
        assert response.status_code == status, response.content


def test_owner_revokes_and_grants_through_the_api(tenant, user_with_role, client_for) -> None:
    user_with_role(tenant, "owner", user_id=6701)
    user_with_role(tenant, "admin", user_id=6702)
    owner, admin = client_for(tenant, user_id=6701), client_for(tenant, user_id=6702)
    url = reverse("admin-capabilities", kwargs={"telegram_id": 6702})
    assert admin.get("/api/v1/audit").status_code == 200

    response = owner.patch(url, {"revoke": ["view_audit"]}, format="json")
    assert response.status_code == 200, response.content
    assert "view_audit" not in response.json()["capabilities"]
    assert admin.get("/api/v1/audit").status_code == 403

    owner.patch(url, {"grant": ["view_audit", "manage_bots"]}, format="json")
    assert admin.get("/api/v1/audit").status_code == 200
    assert "manage_bots" in admin.get("/api/v1/me").json()["capabilities"]
    # The admin cannot change their own (or anyone's) capabilities.
    assert admin.patch(url, {"revoke": ["moderate"]}, format="json").status_code == 403


@pytest.mark.urls("tests.accounts.sample_urls")
def test_the_walker_finds_every_operation_name_method_and_parameter() -> None:
    found = {(op.name, op.method, op.route, op.kwarg_names) for op in api_operations()}
    plain = {
        ("", method, "/api/v1/plain", ()) for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    }
    assert (
        found
        == {
            ("inner:thing", "GET", "/api/v1/things/<int:thing_id>", ("thing_id",)),
            ("inner:thing", "DELETE", "/api/v1/things/<int:thing_id>", ("thing_id",)),
            ("widget-list", "GET", "/api/v1/widgets", ()),
            ("widget-list", "POST", "/api/v1/widgets", ()),
        }
        | plain
    )
    thing = api_operation_index()[("inner:thing", "GET")]
    assert thing.url({"thing_id": 7, "unused": 1}) == "/api/v1/things/7"
