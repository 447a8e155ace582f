"""Tenants' X credentials against the sandbox X over HTTP: an app token stored encrypted;
an X account connected through OAuth 2.0 with PKCE (consent URL, callback, the account X
names, tokens encrypted), refreshed before it expires; a callback only for the community
that started its flow, and only once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from config.encryption import decrypt
from config.errors import ServiceError
from history.models import Entry as HistoryEntry
from history.services import Actor
from xclient.credentials import (
    credential_app_set,
    credential_connect_finish,
    credential_connect_start,
    credential_token,
)
from xclient.models import Connect, Credential

CLIENT_ID = "bragabot-platform"
REDIRECT = "https://bragabot.example/x/callback"
ADMIN = Actor.user(4242)


@pytest.fixture
def x(x_server, settings):
    x_server.reset()
    x_server.add_oauth_client(CLIENT_ID, [REDIRECT])
    x_server.project = x_server.add_account("project", name="The Project")
    settings.X_API_BASE = x_server.base_url
    settings.X_OAUTH_CLIENT_ID, settings.X_OAUTH_CLIENT_SECRET = CLIENT_ID, ""
    return x_server


def _consent(url: str, account: str = "project") -> str:
    """The account approves on X's consent page; X's redirect back (the callback)."""
    answer = requests.get(
        url, params={"sandbox_account": account}, allow_redirects=False, timeout=10
    )
    assert answer.status_code in (302, 303), answer.text
    return answer.headers["Location"]


def test_an_app_token_is_stored_encrypted(tenant):
    credential = credential_app_set(tenant=tenant, bearer_token=" AAAA-token ", actor=ADMIN)
    assert credential.access_token != "AAAA-token"
    assert decrypt(credential.access_token) == "AAAA-token"
    assert credential_token(credential=credential) == "AAAA-token"
    assert credential.name == f"app:t{tenant.pk}"
    with pytest.raises(ServiceError) as empty:
        credential_app_set(tenant=tenant, bearer_token="  ", actor=ADMIN)
    assert empty.value.code == "invalid_token"


def test_connecting_an_account_stores_whom_x_names_and_refreshes_before_expiry(tenant, x):
    url = credential_connect_start(tenant=tenant, redirect_uri=REDIRECT)
    assert url.startswith(x.base_url + "/i/oauth2/authorize?")
    flow = Connect.objects.get(tenant=tenant)
    assert "code_challenge" in url and flow.code_verifier not in url  # stored encrypted

    callback = _consent(url)
    credential = credential_connect_finish(tenant=tenant, callback_url=callback, actor=ADMIN)
    assert (credential.kind, credential.username) == ("user", "project")
    assert str(credential.x_user_id) == str(x.project["id"])  # as X answered /2/users/me
    token = decrypt(credential.access_token)
    assert credential.refresh_token and decrypt(credential.refresh_token) != token
    assert not Connect.objects.filter(tenant=tenant).exists()
    recorded = HistoryEntry.objects.get(action="xclient.account_connected", tenant_id=tenant.pk)
    assert recorded.data["username"] == "project"
    # Valid for a while: the same token. Close to expiry: refreshed and stored.
    assert credential_token(credential=credential) == token
    soon = credential.expires_at - timedelta(seconds=30)
    fresh = credential_token(credential=credential, now=soon)
    assert fresh != token
    credential.refresh_from_db()
    assert decrypt(credential.access_token) == fresh
    assert credential.expires_at > datetime.now(UTC) + timedelta(minutes=30)


def test_a_callback_belongs_to_the_community_that_started_it_and_works_once(make_tenant, x):
    a, b = make_tenant(), make_tenant()
    callback = _consent(credential_connect_start(tenant=a, redirect_uri=REDIRECT))
    with pytest.raises(ServiceError) as foreign:
        credential_connect_finish(tenant=b, callback_url=callback, actor=ADMIN)
    assert foreign.value.code == "unknown_state"
    assert not Credential.objects.filter(tenant=b).exists()
    credential_connect_finish(tenant=a, callback_url=callback, actor=ADMIN)
    with pytest.raises(ServiceError) as again:
        credential_connect_finish(tenant=a, callback_url=callback, actor=ADMIN)
    assert again.value.code == "unknown_state"
    assert Credential.objects.filter(tenant=a, kind="user").count() == 1


def test_a_code_x_refuses_stores_nothing(tenant, x):
    url = credential_connect_start(tenant=tenant, redirect_uri=REDIRECT)
    callback = _consent(url)
    forged = callback.replace("code=", "code=forged-")
    with pytest.raises(ServiceError) as refused:
        credential_connect_finish(tenant=tenant, callback_url=forged, actor=ADMIN)
    assert refused.value.code == "x_refused"
    assert not Credential.objects.filter(tenant=tenant).exists()


def test_without_an_oauth_client_connecting_is_refused_clearly(tenant, settings):
    settings.X_OAUTH_CLIENT_ID = ""
    with pytest.raises(ServiceError) as refused:
        credential_connect_start(tenant=tenant, redirect_uri=REDIRECT)
    assert (refused.value.code, refused.value.status) == ("x_not_configured", 503)
