"""Plain helpers for the sandbox X's tests: tweepy clients and raw requests against a
server, and checks of answers against the published OpenAPI spec (tests/data)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests
import tweepy
from jsonschema import Draft202012Validator

from sandbox.x import SandboxX
from sandbox.x.auth import s256
from xclient.transport import x_client

TOKEN = "AAAA-app-one"
OTHER_TOKEN = "AAAA-app-two"
DATA = Path(__file__).resolve().parents[1] / "data"


def client(x: SandboxX, token: str = TOKEN, **kwargs: Any) -> tweepy.Client:
    return x_client(base_url=x.base_url, bearer_token=token, **kwargs)


def get(x: SandboxX, path: str, token: str | None = TOKEN, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(x.base_url + path, params=params, headers=headers, timeout=10)


@functools.cache
def spec() -> dict[str, Any]:
    return json.loads((DATA / "x_api_v2_openapi.json").read_text())


def response_schema(path: str, method: str = "get", status: str = "200") -> dict[str, Any]:
    """The spec's JSON schema of an answer, its $refs resolving within the document."""
    content = spec()["paths"][path][method]["responses"][status]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    return {"$ref": ref, "components": spec()["components"]}


def schema_errors(body: Any, path: str, method: str = "get") -> list[str]:
    validator = Draft202012Validator(response_schema(path, method))
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]


def problem_errors(problem: dict[str, Any]) -> list[str]:
    schema = {"$ref": "#/components/schemas/Problem", "components": spec()["components"]}
    return [e.message for e in Draft202012Validator(schema).iter_errors(problem)]


PUBLIC_REDIRECT = "https://app.example/callback"


def authorize(
    x: SandboxX,
    verifier: str,
    account: str = "alice",
    scopes: str = "tweet.read users.read",
    **extra: str,
) -> requests.Response:
    """The authorize request a browser makes for the public client ``pub``, answered for
    ``account`` at once (the sandbox's consent shortcut)."""
    return requests.get(
        x.base_url + "/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "pub",
            "redirect_uri": PUBLIC_REDIRECT,
            "scope": scopes,
            "state": "st",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "sandbox_account": account,
            **extra,
        },
        allow_redirects=False,
        timeout=10,
    )


def authorization_code(answer: requests.Response) -> str:
    """The code in the redirect an approved authorize request answers with."""
    return parse_qs(urlparse(answer.headers["Location"]).query)["code"][0]


def user_token(x: SandboxX, account: str, scopes: str = "tweet.read users.read like.read") -> str:
    """An OAuth 2.0 user access token of ``account`` (id or username), through the
    authorization-code flow with PKCE of a public client ``pub`` (registered if needed)."""
    verifier = "v" * 50
    if "pub" not in x.auth.clients:
        x.add_oauth_client("pub", [PUBLIC_REDIRECT], app_id="app1")
    form = {
        "grant_type": "authorization_code",
        "code": authorization_code(authorize(x, verifier, account, scopes)),
        "redirect_uri": PUBLIC_REDIRECT,
        "code_verifier": verifier,
        "client_id": "pub",
    }
    answer = requests.post(x.base_url + "/2/oauth2/token", data=form, timeout=10)
    return str(answer.json()["access_token"])
