"""OAuth 2.0 with PKCE through tweepy's OAuth2UserHandler (authorize, token, refresh),
the checks X makes on each step, and which credential each endpoint accepts."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import tweepy

from tests.sandbox_x.helpers import PUBLIC_REDIRECT as REDIRECT
from tests.sandbox_x.helpers import authorization_code, authorize, client, get
from xclient.transport import OAuth2UserHandler

SCOPES = ["tweet.read", "users.read", "offline.access"]


def _handler(x, secret: str | None = "s3cret") -> OAuth2UserHandler:
    return OAuth2UserHandler(
        base_url=x.base_url,
        client_id="cid",
        redirect_uri=REDIRECT,
        scope=SCOPES,
        client_secret=secret,
    )


def _consent(url: str, account: str | None = "alice") -> requests.Response:
    params = {"sandbox_account": account} if account else {}
    return requests.get(url, params=params, allow_redirects=False, timeout=10)


def test_authorize_token_me_refresh(x, people):
    x.add_oauth_client("cid", [REDIRECT], client_secret="s3cret", app_id="app1")
    handler = _handler(x)
    url = handler.get_authorization_url()
    assert url.startswith(x.base_url + "/i/oauth2/authorize?")
    state = parse_qs(urlparse(url).query)["state"][0]

    page = _consent(url, account=None)
    assert page.status_code == 200 and "@alice" in page.text  # the consent screen
    redirect = _consent(url)
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    assert parse_qs(urlparse(location).query)["state"] == [state]

    token = handler.fetch_token(location)
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    me = client(x, token["access_token"]).get_me(user_auth=False)
    assert me.data.username == "alice"

    refreshed = handler.refresh_token(
        "https://api.x.com/2/oauth2/token", refresh_token=token["refresh_token"]
    )
    assert refreshed["access_token"] != token["access_token"]
    assert client(x, refreshed["access_token"]).get_me(user_auth=False).data.username == "alice"
    with pytest.raises(Exception, match="invalid"):  # X rotates refresh tokens: one use
        handler.refresh_token(
            "https://api.x.com/2/oauth2/token", refresh_token=token["refresh_token"]
        )


def _code(x, verifier: str, account: str = "alice") -> str:
    return authorization_code(authorize(x, verifier, account))


def _exchange(x, code: str, verifier: str, **extra) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        "client_id": "pub",
        **extra,
    }
    return requests.post(x.base_url + "/2/oauth2/token", data=form, timeout=10)


def test_the_verifier_must_match_the_s256_challenge(x, people, clock):
    x.add_oauth_client("pub", [REDIRECT])  # a public client: PKCE alone
    verifier = "v" * 64
    wrong = _exchange(x, _code(x, verifier), "w" * 64)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_request"
    right = _exchange(x, _code(x, verifier), verifier)
    assert right.status_code == 200
    assert "refresh_token" not in right.json()  # no offline.access asked
    code = _code(x, verifier)
    assert _exchange(x, code, verifier).status_code == 200
    assert _exchange(x, code, verifier).status_code == 400  # a code is good once
    late = _code(x, verifier)
    clock.advance(31)  # codes live 30 seconds
    assert _exchange(x, late, verifier).status_code == 400

    access = right.json()["access_token"]
    assert get(x, "/2/users/me", token=access).status_code == 200
    clock.advance(7200)  # access tokens live two hours
    assert get(x, "/2/users/me", token=access).status_code == 401


def test_confidential_clients_need_their_secret(x, people):
    x.add_oauth_client("cid", [REDIRECT], client_secret="s3cret")
    handler = _handler(x, secret="wrong")
    location = _consent(handler.get_authorization_url()).headers["Location"]
    with pytest.raises(Exception, match="authorization header"):
        handler.fetch_token(location)
    basic = base64.b64encode(b"cid:s3cret").decode()
    unknown = requests.post(
        x.base_url + "/2/oauth2/token",
        data={"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT},
        headers={"Authorization": f"Basic {basic}"},
        timeout=10,
    )
    assert unknown.status_code == 400


def test_denied_consent_and_revoked_tokens(x, people):
    x.add_oauth_client("pub", [REDIRECT])
    denied = authorize(x, "v" * 43, sandbox_decision="deny")
    assert parse_qs(urlparse(denied.headers["Location"]).query) == {
        "error": ["access_denied"],
        "state": ["st"],
    }
    verifier = "v" * 43
    access = _exchange(x, _code(x, verifier), verifier).json()["access_token"]
    assert get(x, "/2/users/me", token=access).status_code == 200
    requests.post(x.base_url + "/2/oauth2/revoke", data={"token": access}, timeout=10)
    assert get(x, "/2/users/me", token=access).status_code == 401


def test_authorize_refuses_unknown_clients_and_redirects(x, people):
    x.add_oauth_client("cid", [REDIRECT], client_secret="s3cret")
    url = _handler(x).get_authorization_url()
    assert _consent(url.replace("client_id=cid", "client_id=other")).status_code == 400
    elsewhere = url.replace("app.example", "evil.example")
    assert _consent(elsewhere).status_code == 400


def test_each_endpoint_takes_the_credentials_x_allows(x, people):
    x.add_oauth_client("pub", [REDIRECT], app_id="app1")
    verifier = "v" * 50
    user_token = _exchange(x, _code(x, verifier, "bob"), verifier).json()["access_token"]
    # App-only token on a user-context endpoint, user token on app-only ones: 403.
    assert get(x, "/2/users/me").status_code == 403
    assert get(x, "/2/tweets/search/stream/rules", token=user_token).status_code == 403
    # Both kinds on endpoints X serves to both; the call log names the user.
    assert get(x, "/2/users/by/username/alice", token=user_token).status_code == 200
    assert x.calls()[-1]["credential"] == f"user:{people['bob']['id']}@app1"
    with pytest.raises(tweepy.Unauthorized):
        client(x, "revoked-or-made-up").get_me(user_auth=False)


def test_user_and_app_tokens_have_their_own_windows(limited, clock):
    limited.add_account("alice")
    limited.add_oauth_client("pub", [REDIRECT], app_id="app1")
    verifier = "v" * 50
    user_token = _exchange(limited, _code(limited, verifier), verifier).json()["access_token"]
    app_answer = get(limited, "/2/users/by/username/alice")
    user_answer = get(limited, "/2/users/by/username/alice", token=user_token)
    assert app_answer.headers["x-rate-limit-limit"] == "300"  # per app
    assert user_answer.headers["x-rate-limit-limit"] == "900"  # per user
    assert user_answer.headers["x-rate-limit-remaining"] == "899"
    for _ in range(75):
        assert get(limited, "/2/users/me", token=user_token).status_code == 200
    assert get(limited, "/2/users/me", token=user_token).status_code == 429
