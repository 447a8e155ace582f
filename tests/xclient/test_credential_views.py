"""The X credentials API: a community's settings managers set its app token, connect X
accounts through OAuth 2.0 with PKCE (X's consent, then X's redirect to /x/callback),
list and remove them; tokens never appear in an answer; another community sees and
removes nothing of it; bad input is refused with nothing stored."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from config.encryption import decrypt
from history.models import Entry
from xclient.models import Connect, Credential

CLIENT_ID = "bragabot-platform"
CALLBACK = "https://localhost/x/callback"  # /x/callback on the platform's own domain


@pytest.fixture
def x(x_server, settings):
    x_server.reset()
    x_server.add_oauth_client(CLIENT_ID, [CALLBACK])
    x_server.project = x_server.add_account("project")
    x_server.auto_approve("project")
    settings.X_API_BASE = x_server.base_url
    settings.X_OAUTH_CLIENT_ID, settings.X_OAUTH_CLIENT_SECRET = CLIENT_ID, ""
    return x_server


@pytest.fixture
def admin_of(user_with_role, client_for):
    def make(tenant, user_id: int = 8201):
        user_with_role(tenant, "admin", user_id=user_id, username=f"admin{user_id}")
        return client_for(tenant, user_id=user_id, username=f"admin{user_id}")

    return make


def _approve(authorize_url: str) -> str:
    """The person approves on X (auto-approved as @project); X's redirect back."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def test_connecting_an_account_from_the_api_to_the_callback_page(tenant, admin_of, x, client):
    admin = admin_of(tenant)
    started = admin.post("/api/v1/x/connect", secure=True)
    assert started.status_code == 200, started.content
    url = started.json()["authorize_url"]
    assert parse_qs(urlparse(url).query)["redirect_uri"] == [CALLBACK]

    back = _approve(url)
    assert back.startswith(CALLBACK + "?")
    page = client.get(urlparse(back).path + "?" + urlparse(back).query, secure=True)
    assert page.status_code == 200, page.content
    assert b"@project" in page.content and tenant.name.encode() in page.content
    credential = Credential.objects.get(tenant=tenant, kind="user")
    assert credential.x_user_id == int(x.project["id"])
    connected = Entry.objects.get(action="xclient.account_connected", tenant_id=tenant.pk)
    assert connected.actor_id == "8201"  # who started the flow, not the browser's session
    # Once: the same redirect again finds no flow.
    again = client.get(urlparse(back).path + "?" + urlparse(back).query, secure=True)
    assert again.status_code == 400 and b"no connect flow" in again.content

    listed = admin.get("/api/v1/x/credentials").json()["credentials"]
    assert [(c["kind"], c["username"]) for c in listed] == [("user", "project")]
    assert decrypt(credential.access_token) not in str(listed)


def test_a_plain_http_callback_is_refused_clearly(tenant, admin_of, x, client):
    url = admin_of(tenant).post("/api/v1/x/connect", secure=True).json()["authorize_url"]
    back = urlparse(_approve(url))
    page = client.get(f"{back.path}?{back.query}")  # http: oauthlib refuses the response
    assert page.status_code == 400 and b"over https" in page.content
    assert not Credential.objects.filter(tenant=tenant).exists()


def test_a_declined_consent_stores_nothing(client, db):
    page = client.get("/x/callback?error=access_denied&state=whatever", secure=True)
    assert page.status_code == 400 and b"not approved" in page.content


def test_the_app_token_is_write_only_and_bad_input_is_refused(tenant, admin_of):
    admin = admin_of(tenant)
    stored = admin.put("/api/v1/x/credentials/app", {"bearer_token": " AAA-1 "}, format="json")
    assert stored.status_code == 200
    assert "AAA-1" not in str(stored.json()) and stored.json()["kind"] == "app"
    assert decrypt(Credential.objects.get(tenant=tenant).access_token) == "AAA-1"
    for body in ({"bearer_token": ""}, {"bearer_token": 5}, {}, {"bearer_token": "x" * 501}):
        refused = admin.put("/api/v1/x/credentials/app", body, format="json")
        assert refused.status_code == 400, body
        assert "bearer_token" in refused.json()["detail"], refused.json()
    assert decrypt(Credential.objects.get(tenant=tenant).access_token) == "AAA-1"


def test_another_community_sees_and_removes_nothing(make_tenant, admin_of):
    a, b = make_tenant(), make_tenant()
    admin_a, admin_b = admin_of(a, 8301), admin_of(b, 8302)
    mine = admin_a.put("/api/v1/x/credentials/app", {"bearer_token": "A"}, format="json").json()
    assert admin_b.get("/api/v1/x/credentials").json() == {"credentials": []}
    gone = admin_b.delete(f"/api/v1/x/credentials/{mine['id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "credential_not_found"
    assert Credential.objects.filter(pk=mine["id"]).exists()
    assert admin_a.delete(f"/api/v1/x/credentials/{mine['id']}").status_code == 204
    assert not Credential.objects.filter(pk=mine["id"]).exists()
    removed = Entry.objects.get(action="xclient.credential_removed", tenant_id=a.pk)
    assert removed.data == {"kind": "app", "username": ""}


def test_a_flow_another_community_started_finishes_for_that_community(
    make_tenant, admin_of, x, client
):
    a, b = make_tenant(), make_tenant()
    url = admin_of(b, 8402).post("/api/v1/x/connect", secure=True).json()["authorize_url"]
    back = urlparse(_approve(url))
    # Whatever domain the browser lands on, the state names b's flow: b gets the account.
    page = client.get(f"{back.path}?{back.query}", secure=True, HTTP_HOST=a.domains.first().domain)
    assert page.status_code == 200
    assert list(Credential.objects.values_list("tenant_id", flat=True)) == [b.pk]
    assert not Connect.objects.exists()
