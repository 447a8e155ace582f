"""One error shape under /api/: Django's own pages (unknown path, 405, an uncaught
exception) answer ``{"detail", "code"}`` JSON there and stay Django's pages elsewhere; a
500 answers a request id that finds its traceback in the log. Bodies and cursors the API
cannot take answer 400, never 500."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

import pytest
from rest_framework.test import APIClient

from config.logging import JsonFormatter
from tests.helpers import TenantClient

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"
ACTIVITY = "/api/v1/me/activity"


def _client(tenant, **kwargs) -> TenantClient:
    client = TenantClient(tenant, **kwargs)
    client.raise_request_exception = False  # answer as production does
    return client


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code and body["detail"]
    return body


@pytest.mark.parametrize("path", ["/api/nope", "/api/v1/nope", "/api/v1/me/"])
def test_an_unknown_api_path_answers_json_404(tenant, path):
    body = _error(_client(tenant).get(path), 404, "not_found")
    assert body == {"detail": f"no API endpoint at {path}", "code": "not_found"}


def test_outside_the_api_django_pages_are_kept(tenant):
    response = _client(tenant).get("/nope")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    # A missing slash is still redirected, under /api/ too.
    assert _client(tenant).get("/api/schema").status_code == 301


@pytest.mark.parametrize(
    ("method", "path"), [("post", ME), ("delete", "/api/schema/"), ("post", "/api/docs/")]
)
def test_a_method_not_allowed_answers_json_405(tenant, method, path):
    # /api/me is a JSON view; the schema (YAML) and docs (HTML) views rendered their
    # 405 in their own formats.
    response = getattr(_client(tenant), method)(path)
    _error(response, 405, "method_not_allowed")
    assert method.upper() not in response["Allow"]


def test_a_refused_host_under_the_api_answers_json(db):
    response = APIClient(raise_request_exception=False).get(ME, HTTP_HOST="bad host!")
    _error(response, 404, "not_found")


def _unhandled_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "api.unhandled_error"]


def test_an_uncaught_exception_answers_a_request_id_and_logs_the_traceback_under_it(
    tenant, monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("secret detail of the failure")

    monkeypatch.setattr("accounts.views.entry_list", broken)
    response = _client(tenant).get(ACTIVITY)

    body = _error(response, 500, "internal_error")
    request_id = body["request_id"]
    assert response["X-Request-ID"] == request_id and len(request_id) == 32
    assert request_id in body["detail"]
    assert "secret" not in response.content.decode()  # details only in the log
    [line] = _unhandled_lines(caplog)
    assert line.request_id == request_id
    assert (line.method, line.path, line.status) == ("GET", ACTIVITY, 500)
    assert line.exc_info and line.exc_info[0] is RuntimeError
    # The line as the operator reads it: one JSON object with the id and the traceback.
    logged = json.loads(JsonFormatter().format(line))
    assert (logged["event"], logged["request_id"]) == ("api.unhandled_error", request_id)
    assert "RuntimeError: secret detail of the failure" in logged["exc"]


def test_with_debug_on_the_api_still_shows_no_technical_page(tenant, monkeypatch, settings):
    settings.DEBUG = True  # Django's technical 404 and 500 pages show code and settings
    monkeypatch.setattr("accounts.views.entry_list", lambda **kwargs: 1 / 0)
    client = _client(tenant)
    _error(client.get("/api/nope"), 404, "not_found")
    body = _error(client.get(ACTIVITY), 500, "internal_error")
    assert set(body) == {"detail", "code", "request_id"}


def test_each_failure_gets_its_own_request_id(tenant, monkeypatch, caplog):
    monkeypatch.setattr("accounts.views.entry_list", lambda **kwargs: 1 / 0)
    client = _client(tenant)
    ids = {client.get(ACTIVITY).json()["request_id"] for _ in range(2)}
    assert len(ids) == 2
    assert {line.request_id for line in _unhandled_lines(caplog)} == ids


def test_a_failing_middleware_under_the_api_answers_json_too(tenant, monkeypatch, caplog):
    from tenancy.middleware import TenantMiddleware

    def down(*args, **kwargs):
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(TenantMiddleware, "get_tenant", down)
    response = _client(tenant).get(ME)
    body = _error(response, 500, "internal_error")
    [line] = _unhandled_lines(caplog)
    assert line.request_id == body["request_id"] == response["X-Request-ID"]
    assert line.exc_info[0] is ConnectionError
    # Outside /api/ the same failure keeps Django's page.
    page = _client(tenant).get("/admin/login/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


def test_a_forged_cursor_answers_400_on_every_list(tenant, user_with_role):
    user_with_role(tenant, "owner", user_id=9101)
    client = _client(tenant, user_id=9101)
    forged = {
        "cD1hYmM%3D": "p=abc, a position no id has (the query failed: 500)",
        "cD0AMQ%3D%3D": "p=<NUL>1",
        "bz14": "o=x (DRF answered 404)",
        "cj14": "r=x",
    }
    lists = (ACTIVITY, "/api/v1/admins", "/api/v1/groups", "/api/v1/audit", "/api/v1/broadcasts")
    for path in lists:
        assert client.get(path).status_code == 200, path
        for cursor, why in forged.items():
            response = client.get(f"{path}?cursor={cursor}")
            assert response.status_code == 400, (path, why)
            _error(response, 400, "invalid_cursor")


def test_a_cursor_the_list_gave_out_still_pages(tenant, client_for):
    client = client_for(tenant, user_id=9102)
    for i in range(3):
        client.patch(ME, {"notification_preferences": {f"t{i}": True}}, format="json")
    first = client.get(f"{ACTIVITY}?page_size=2").json()
    second = client.get("{0.path}?{0.query}".format(urlsplit(first["next"])))
    assert second.status_code == 200 and len(second.json()["results"]) == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 100_000, "the decoder's recursion fails"),
        ("[" * 500 + "]" * 500, "parses, nested past the limit"),
        ('{"notification_preferences": {"a": "\\u0000"}}', "NUL: PostgreSQL refuses it"),
        ('{"notification_preferences": {"\\ud800": true}}', "half a surrogate pair"),
        ('{"notification_preferences": {"a": 1e999}}', "infinity"),
        ('{"language": ', "malformed"),
    ],
)
def test_a_json_body_the_api_cannot_take_answers_400(tenant, body, why):
    response = _client(tenant).patch(ME, data=body, content_type="application/json")
    _error(response, 400, "invalid_json")


def test_json_nested_to_the_limit_is_still_parsed(tenant):
    # 32 levels: the preferences object and 31 within it reach the view's own checks.
    nested: object = True
    for _ in range(30):
        nested = {"k": nested}
    body = json.dumps({"notification_preferences": nested})
    response = _client(tenant).patch(ME, data=body, content_type="application/json")
    assert response.json()["code"] != "invalid_json"


@pytest.mark.parametrize("page_size", ["0", "201", "false", "-1", "1.5", "\u0661"])
def test_a_page_size_the_list_cannot_use_answers_400(tenant, page_size):
    # DRF answered the default page for these: the client never learnt it was ignored.
    response = _client(tenant).get(ACTIVITY, {"page_size": page_size})
    _error(response, 400, "invalid_page_size")


def test_page_size_within_bounds_or_empty_is_used(tenant, client_for):
    client = client_for(tenant, user_id=9103)
    for i in range(3):
        client.patch(ME, {"notification_preferences": {f"t{i}": True}})
    assert len(client.get(ACTIVITY, {"page_size": "2"}).json()["results"]) == 2
    # Empty, as any optional query parameter: not given.
    assert len(client.get(ACTIVITY, {"page_size": ""}).json()["results"]) == 3


def test_the_api_takes_json_bodies_only(tenant):
    client = _client(tenant)
    form = client.patch(ME, data="language=de", content_type="application/x-www-form-urlencoded")
    _error(form, 415, "unsupported_media_type")
    multipart = client.generic(
        "PATCH", ME, b"--x\r\n\r\n--x--\r\n", content_type="multipart/form-data; boundary=x"
    )
    _error(multipart, 415, "unsupported_media_type")


def test_the_schema_documents_errors_pages_and_empty_query_values(client):
    schema = client.get("/api/schema/?format=json", HTTP_HOST="testserver").json()
    activity = schema["paths"]["/api/v1/me/activity"]["get"]
    error_ref = {"$ref": "#/components/schemas/Error"}
    for status in ("400", "401", "403", "404", "default"):
        assert activity["responses"][status]["content"]["application/json"]["schema"] == (error_ref)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"detail", "code"}
    page = activity["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert page == "#/components/schemas/PaginatedMyActivityOutputList"
    parameters = {p["name"]: p for p in activity["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["cursor"]["allowEmptyValue"] is True
    # Request bodies are JSON only.
    patch_me = schema["paths"]["/api/v1/me"]["patch"]["requestBody"]["content"]
    assert set(patch_me) == {"application/json"}
