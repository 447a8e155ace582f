"""The user's X link API on any tenant's domain: link through X's consent (the API, X's
consent page, the /x/callback page) or a posted code, see it, unlink it; another user
sees nothing of it; an X account linked through one tenant is refused in another (409);
a link Telegram vouched for is not unlinked on a tenant's word; bad input is 4xx with
``detail`` and ``code``; no token in any answer or log line."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from accounts.services import user_touch
from config.encryption import decrypt
from tests.helpers import TenantClient
from tests.xclient.helpers import LINK_CALLBACK
from xclient.links import XAccount, link_create
from xclient.models import LinkCode, XLink


@pytest.fixture
def x(link_x):
    return link_x


def callback(client, x, authorize_url: str, as_account: str):
    """``as_account`` approves on X; the browser follows X's redirect to /x/callback."""
    x.auto_approve(as_account)
    answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
    back = urlparse(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}", secure=True)


def test_linking_through_x_s_consent_from_the_api_to_the_page(tenant, x, client, caplog):
    caplog.set_level(logging.DEBUG)
    x.add_account("alice")
    alice = TenantClient(tenant, user_id=9801, username="alice")
    assert alice.get("/api/v1/me/x").json() == {"link": None, "pending_code": None}
    started = alice.post("/api/v1/me/x/link", {"method": "oauth"}, format="json", secure=True)
    assert started.status_code == 200, started.content
    url = started.json()["authorize_url"]
    query = parse_qs(urlparse(url).query)
    assert query["redirect_uri"] == [LINK_CALLBACK] and query["code_challenge_method"] == ["S256"]

    page = callback(client, x, url, "alice")
    assert page.status_code == 200 and b"Linked" in page.content and b"@alice" in page.content
    mine = alice.get("/api/v1/me/x").json()
    assert mine["link"]["username"] == "alice" and mine["link"]["via"] == "oauth"
    link = XLink.objects.get()
    token, refresh = decrypt(link.access_token), decrypt(link.refresh_token)
    assert token not in str(mine) and refresh not in str(mine)
    assert token not in caplog.text and refresh not in caplog.text


def test_linking_by_a_posted_code(tenant, x):
    x.add_account("alice")
    alice = TenantClient(tenant, user_id=9802, username="alice")
    started = alice.post(
        "/api/v1/me/x/link", {"method": "code", "username": "@alice"}, format="json"
    ).json()
    assert started["method"] == "code" and started["username"] == "alice"
    assert started["code"] in started["instructions"]
    assert alice.get("/api/v1/me/x").json()["pending_code"]["code"] == started["code"]
    early = alice.post("/api/v1/me/x/verify")
    assert early.status_code == 400 and early.json()["code"] == "code_not_found"

    x.post("alice", f"gm {started['code']}")
    verified = alice.post("/api/v1/me/x/verify")
    assert verified.status_code == 200, verified.content
    assert verified.json()["username"] == "alice" and verified.json()["via"] == "code"
    assert alice.get("/api/v1/me/x").json()["pending_code"] is None


def test_a_user_sees_their_own_link_on_every_domain_and_nobody_else_does(make_tenant, x):
    a, b = make_tenant(), make_tenant()
    alice = user_touch(profile={"id": 9803, "username": "alice", "first_name": "Alice"})
    link_create(
        user=alice,
        tenant=a,
        account=XAccount(x_user_id=77, username="alice", created_at=None, followers=5),
        via="code",
        confirmed=True,
    )
    on_b = TenantClient(b, user_id=9803, username="alice").get("/api/v1/me/x").json()
    assert on_b["link"]["x_user_id"] == "77"
    bob = TenantClient(a, user_id=9804, username="bob")
    assert bob.get("/api/v1/me/x").json()["link"] is None
    assert bob.delete("/api/v1/me/x").status_code == 404
    assert XLink.objects.get().unlinked_at is None


def test_an_x_account_linked_in_tenant_a_is_refused_to_a_user_of_tenant_b(make_tenant, x, client):
    a, b = make_tenant(), make_tenant()
    x.add_account("alice")
    alice = TenantClient(a, user_id=9805, username="alice")
    url = alice.post("/api/v1/me/x/link", {"method": "oauth"}, format="json", secure=True)
    assert callback(client, x, url.json()["authorize_url"], "alice").status_code == 200

    mallory = TenantClient(b, user_id=9806, username="mallory")
    url = mallory.post("/api/v1/me/x/link", {"method": "oauth"}, format="json", secure=True)
    page = callback(client, x, url.json()["authorize_url"], "alice")
    assert page.status_code == 409 and b"linked to another Telegram user" in page.content
    by_code = mallory.post(
        "/api/v1/me/x/link", {"method": "code", "username": "alice"}, format="json"
    )
    assert by_code.status_code == 409
    assert by_code.json() == {
        "detail": "x_account: @alice is linked to another Telegram user",
        "code": "x_account_taken",
    }
    assert list(XLink.objects.values_list("user__telegram_id", flat=True)) == [9805]


def test_unlinking_and_a_link_telegram_vouched_for_is_not_unlinked_on_a_tenant_s_word(tenant, x):
    alice = TenantClient(tenant, user_id=9807, username="alice")
    user = user_touch(profile={"id": 9807, "username": "alice", "first_name": "Alice"})
    account = XAccount(x_user_id=78, username="alice", created_at=None, followers=0)
    link_create(user=user, tenant=tenant, account=account, via="oauth", confirmed=True)
    # The tenant's bot token signed this initData only: its owner could have.
    refused = alice.delete("/api/v1/me/x")
    assert refused.status_code == 403
    assert refused.json()["code"] == "telegram_confirmation_required"
    XLink.objects.update(confirmed=False)
    assert alice.delete("/api/v1/me/x").status_code == 204
    gone = alice.delete("/api/v1/me/x")
    assert gone.status_code == 404 and gone.json()["code"] == "not_linked"


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 400, "required", "method"),
        ({"method": "sms"}, 400, "invalid_choice", "method"),
        ({"method": "code"}, 400, "required", "username"),
        ({"method": "code", "username": 5}, 400, "invalid", "username"),
        ({"method": "code", "username": "has space"}, 400, "invalid_username", "username"),
        ({"method": "code", "username": "x" * 17}, 400, "max_length", "username"),
        ({"method": "code", "username": "nobody_here"}, 404, "x_user_not_found", "username"),
        ({"method": "oauth", "extra": 1}, 400, "unknown_field", "extra"),
    ],
)
def test_bad_input_is_refused_with_detail_and_code(tenant, x, body, status, code, field):
    alice = TenantClient(tenant, user_id=9808, username="alice")
    refused = alice.post("/api/v1/me/x/link", body, format="json")
    assert refused.status_code == status, refused.content
    assert refused.json()["code"] == code and field in refused.json()["detail"]
    assert not LinkCode.objects.exists()


def test_verify_without_a_code_and_anonymous_calls(tenant, x, client):
    alice = TenantClient(tenant, user_id=9809, username="alice")
    missing = alice.post("/api/v1/me/x/verify")
    assert missing.status_code == 404 and missing.json()["code"] == "no_pending_code"
    host = tenant.domains.first().domain
    for method, path in (("get", ""), ("post", "/link"), ("post", "/verify"), ("delete", "")):
        anonymous = getattr(client, method)(f"/api/v1/me/x{path}", HTTP_HOST=host)
        assert anonymous.status_code == 401, (method, path)


def test_linking_works_on_the_platform_s_own_domain(db, x, settings):
    from tenancy.services import public_tenant_ensure
    from tests.helpers import init_data_for

    settings.PLATFORM_BOT_TOKEN = "7999999996:AAHplatformbottokenforthesuite876543"
    public = public_tenant_ensure()
    from rest_framework.test import APIClient

    client = APIClient()
    header = "tma " + init_data_for(public, user_id=9810, token=settings.PLATFORM_BOT_TOKEN)
    client.credentials(HTTP_AUTHORIZATION=header)
    x.add_account("alice")
    started = client.post(
        "/api/v1/me/x/link", {"method": "code", "username": "alice"}, format="json"
    )
    assert started.status_code == 200, started.content
    x.post("alice", started.json()["code"])
    assert client.post("/api/v1/me/x/verify").status_code == 200
    link = XLink.objects.get()
    assert link.tenant_id == public.pk and link.confirmed  # the platform bot's word
