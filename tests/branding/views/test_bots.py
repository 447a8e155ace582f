"""The custom bot API: shapes, bad input with field errors, every kind, no token in any
answer, and another tenant's bots out of reach."""

from __future__ import annotations

import json

import pytest

from provisioner.spec import Rollout, Status
from tests.branding.helpers import custom_token
from tests.helpers import TenantClient, tenant_bot_token
from tests.provisioner.helpers import VALID

OWNER = 7301
INVALID = {
    "white_label": ({"brand_name": "", "colour": "red"}, {"brand_name", "colour"}),
    "moderation": ({"group_name": "G", "mute_minutes": -1}, {"mute_minutes"}),
    "task": (
        {"campaign_name": "L", "tasks": [{"title": "T", "url": "http://x"}]},
        {"tasks[0].url", "tasks[0].points"},
    ),
    "airdrop": ({**VALID["airdrop"], "chain": "btc"}, {"chain"}),
}


@pytest.fixture
def api(tenant, bot_owner) -> TenantClient:
    return TenantClient(tenant, user_id=OWNER, username="owner")


def _create(api, tg, n: int, kind: str = "task", parameters=None, username: str | None = None):
    token = custom_token(n)
    tg.add_bot(token, username=username or f"custom{n}_bot")
    body = {
        "token": token,
        "kind": kind,
        "parameters": VALID[kind] if parameters is None else parameters,
    }
    return api.post("/api/v1/bots", body, format="json"), token


def test_the_kinds_with_their_schemas(api):
    response = api.get("/api/v1/bot-kinds")
    assert response.status_code == 200
    kinds = {kind["name"]: kind for kind in response.json()["kinds"]}
    assert sorted(kinds) == ["airdrop", "moderation", "task", "white_label"]
    task = kinds["task"]
    assert task["parameters"]["required"] == ["campaign_name", "tasks"]
    assert {"command": "tasks", "description": "The tasks and their points"} in task["commands"]
    assert task["messages"]["task_done"] == ["first_name", "title", "points"]


@pytest.mark.parametrize("kind", sorted(VALID))
def test_every_kind_is_made_from_valid_parameters(api, tg, backend, kind):
    response, token = _create(api, tg, 31, kind)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["bot_id"], body["kind"], body["status"]) == (800000031, kind, "pending")
    assert token not in response.content.decode()
    deployed = api.post("/api/v1/bots/800000031/deploy")
    assert deployed.status_code == 200, deployed.content
    assert deployed.json()["status"] == "deploying"
    assert backend.specs()[0].texts  # every message rendered


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_every_kind_refuses_invalid_parameters_naming_the_fields(api, tg, backend, kind):
    parameters, fields = INVALID[kind]
    response, _ = _create(api, tg, 32, kind, parameters)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_parameters"
    assert set(body["errors"]) == fields, body
    assert api.get("/api/v1/bots").json()["results"] == []


def test_bad_input_gets_clear_errors(api, tg, backend):
    unknown = api.post("/api/v1/bots", {"token": custom_token(33), "kind": "casino"}, format="json")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_kind")
    assert "airdrop" in unknown.json()["detail"]
    refused = api.post(
        "/api/v1/bots",
        {"token": custom_token(33), "kind": "task", "parameters": VALID["task"]},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "detail": "Telegram does not accept this token",
        "code": "invalid_token",
    }
    malformed = api.post(
        "/api/v1/bots", {"token": "123", "kind": "task", "parameters": VALID["task"]}, format="json"
    )
    assert (malformed.status_code, malformed.json()["code"]) == (400, "invalid_bot_token")
    missing = api.post("/api/v1/bots", {"kind": "task"}, format="json")
    assert (missing.status_code, missing.json()["code"]) == (400, "required")
    extra = api.post("/api/v1/bots", {"token": "1:x", "kind": "task", "plan": "x"}, format="json")
    assert (extra.status_code, extra.json()["code"]) == (400, "unknown_field")


def test_no_answer_carries_a_token(api, tg, backend):
    response, token = _create(api, tg, 34)
    secret = token.split(":")[1]
    backend.apply_answer = Rollout(Status.RUNNING)
    new = custom_token(34, secret="rotated")
    tg.add_bot(new, username="custom34_bot")
    answers = [
        response,
        api.get("/api/v1/bots"),
        api.get("/api/v1/bots/800000034"),
        api.post("/api/v1/bots/800000034/deploy"),
        api.put("/api/v1/bots/800000034", {"parameters": VALID["task"]}, format="json"),
        api.post("/api/v1/bots/800000034/pause"),
        api.put("/api/v1/bots/800000034/token", {"token": new}, format="json"),
    ]
    for answer in answers:
        assert answer.status_code in (200, 201), answer.content
        text = answer.content.decode()
        assert secret not in text and new.split(":")[1] not in text
        assert "token" not in json.loads(text) if isinstance(json.loads(text), dict) else True


def test_the_lifecycle_through_the_api(api, tg, backend):
    _create(api, tg, 35)
    paused = api.post("/api/v1/bots/800000035/pause")
    assert paused.status_code == 409 and paused.json()["code"] == "invalid_status"
    backend.apply_answer = Rollout(Status.RUNNING)
    assert api.post("/api/v1/bots/800000035/deploy").json()["status"] == "running"
    bad = api.put("/api/v1/bots/800000035", {"parameters": {"tasks": []}}, format="json")
    assert bad.status_code == 400 and "campaign_name" in bad.json()["errors"]
    updated = api.put(
        "/api/v1/bots/800000035",
        {"parameters": {**VALID["task"], "campaign_name": "Two"}},
        format="json",
    )
    assert (updated.json()["revision"], updated.json()["parameters"]["campaign_name"]) == (2, "Two")
    assert api.post("/api/v1/bots/800000035/pause").json()["status"] == "paused"
    assert api.delete("/api/v1/bots/800000035").status_code == 204
    assert api.get("/api/v1/bots/800000035").status_code == 404
    assert [call for call, _ in backend.calls] == ["apply", "apply", "pause", "remove"]


def test_rotation_to_another_bot_is_refused(api, tg, backend):
    _create(api, tg, 36)
    other = custom_token(37)
    tg.add_bot(other, username="someone_else_bot")
    response = api.put("/api/v1/bots/800000036/token", {"token": other}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "different_bot")


def test_another_tenant_cannot_see_deploy_or_delete_a_bot_nor_take_its_token(
    api, tg, backend, make_tenant, user_with_role
):
    other = make_tenant("bravo-bots")
    user_with_role(other, "owner", user_id=7399, username="bravo")
    response, token = _create(api, tg, 38)
    assert response.status_code == 201
    b = TenantClient(other, user_id=7399, username="bravo")
    assert b.get("/api/v1/bots").json()["results"] == []
    for method, path in (
        ("get", "/api/v1/bots/800000038"),
        ("post", "/api/v1/bots/800000038/deploy"),
        ("post", "/api/v1/bots/800000038/pause"),
        ("delete", "/api/v1/bots/800000038"),
    ):
        answer = getattr(b, method)(path)
        assert (answer.status_code, answer.json()["code"]) == (404, "bot_not_found"), path
    rotate = b.put("/api/v1/bots/800000038/token", {"token": token}, format="json")
    assert rotate.status_code == 404
    taken = b.post(
        "/api/v1/bots", {"token": token, "kind": "task", "parameters": VALID["task"]}, format="json"
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "bot_taken")
    assert backend.calls == []
    assert api.get("/api/v1/bots/800000038").json()["status"] == "pending"


def test_the_tenants_own_bot_is_adopted(api, tg, tenant, backend):
    token = tenant_bot_token(tenant)
    tg.add_bot(token, username="own_brand_bot")
    body = {"token": token, "kind": "white_label", "parameters": VALID["white_label"]}
    response = api.post("/api/v1/bots", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "own_brand_bot"


def test_a_member_without_manage_bots_is_refused(tenant, user_with_role):
    user_with_role(tenant, "moderator", user_id=7302)
    response = TenantClient(tenant, user_id=7302).get("/api/v1/bots")
    assert response.status_code == 403
