from datetime import UTC, datetime

import pytest

from history.services import Actor, record
from tenancy.models import Tenant
from tests.helpers import TenantClient

PLATFORM_TOKEN = "799999999:AAHplatformtoken-for-bragabot-suite-x"


@pytest.fixture
def admin_client(tenant, user_with_role, client_for):
    user_with_role(tenant, "admin", user_id=5001, username="boss")
    return client_for(tenant, user_id=5001, username="boss")


def _actions(response) -> list[str]:
    return [row["action"] for row in response.json()["results"]]


def test_admin_reads_only_their_tenants_trail(make_tenant, tenant, admin_client):
    other = make_tenant()
    record(action="raid.created", tenant=tenant, target=("raid", "mine"), data={"budget": 10})
    record(action="raid.created", tenant=other, target=("raid", "theirs"))
    record(action="platform.noticed")

    response = admin_client.get("/api/v1/audit")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows[0]["action"] == "raid.created" and rows[0]["target_id"] == "mine"
    assert rows[0]["data"] == {"budget": 10}
    assert {"seq", "hash", "created_at", "actor_type", "actor_id"} <= set(rows[0])
    # personal data stays out of the API
    assert "ip" not in rows[0] and "user_agent" not in rows[0]
    assert "platform.noticed" not in _actions(response)
    assert all(row["target_id"] != "theirs" for row in rows)
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize("role", ["member", "moderator"])
def test_roles_without_view_audit_are_refused(tenant, user_with_role, client_for, role):
    user_with_role(tenant, role, user_id=5002, username="pleb")
    response = client_for(tenant, user_id=5002, username="pleb").get("/api/v1/audit")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_unauthenticated_is_refused(tenant):
    client = TenantClient(tenant)
    client.credentials()
    response = client.get("/api/v1/audit")
    assert response.status_code in (401, 403)
    assert set(response.json()) >= {"detail", "code"}


def test_filters(tenant, admin_client):
    record(action="perm.granted", actor=Actor.user(11), tenant=tenant, target=("user", 12))
    record(action="perm.revoked", actor=Actor.user(11), tenant=tenant, target=("user", 12))
    record(action="perms.exported", actor=Actor.bot(99), tenant=tenant, target=("file", 1))
    middle = datetime.now(UTC)
    record(action="raid.created", actor=Actor.user(13), tenant=tenant, target=("raid", 5))

    def actions(**params) -> list[str]:
        response = admin_client.get("/api/v1/audit", params)
        assert response.status_code == 200, response.json()
        return _actions(response)

    assert actions(action="perm.granted") == ["perm.granted"]
    assert actions(action_prefix="perm") == ["perm.revoked", "perm.granted"]
    assert actions(actor_type="bot") == ["perms.exported"]
    assert actions(actor_type="user", actor_id="11") == ["perm.revoked", "perm.granted"]
    assert actions(target_type="user", target_id="12") == ["perm.revoked", "perm.granted"]
    assert actions(since=middle.isoformat()) == ["raid.created"]
    assert "raid.created" not in actions(until=middle.isoformat())


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"actor_type": "robot"}, "invalid_choice"),
        ({"since": "yesterday"}, "invalid"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "invalid"),
    ],
)
def test_bad_filters_answer_400(admin_client, params, code):
    response = admin_client.get("/api/v1/audit", params)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_cursor_pagination_walks_every_entry_once(tenant, admin_client):
    for n in range(5):
        record(action="thing.done", tenant=tenant, data={"n": n})
    seen: list[int] = []
    url, params = "/api/v1/audit", {"page_size": 2, "action": "thing.done"}
    while url:
        body = admin_client.get(url, params).json()
        assert len(body["results"]) <= 2
        seen += [row["data"]["n"] for row in body["results"]]
        url, params = body["next"], None
    assert seen == [4, 3, 2, 1, 0]


def test_staff_on_the_platform_domain_read_platform_entries(tenant, user_with_role, settings):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    public = Tenant.objects.get(schema_name="public")
    user_with_role(public, "staff", user_id=5003, username="ops")
    record(action="platform.maintenance", data={"window": "sunday"})
    record(action="raid.created", tenant=tenant)

    staff = TenantClient(public, user_id=5003, username="ops", token=PLATFORM_TOKEN)
    response = staff.get("/api/v1/audit")
    assert response.status_code == 200
    assert "platform.maintenance" in _actions(response)
    assert "raid.created" not in _actions(response)

    nobody = TenantClient(public, user_id=5004, username="nobody", token=PLATFORM_TOKEN)
    assert nobody.get("/api/v1/audit").status_code == 403
