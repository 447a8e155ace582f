"""Credentials: apps' bearer tokens (OAuth 2.0 app-only) and OAuth 2.0 user tokens from
the authorization-code flow with PKCE, as X runs it: an authorization code lives 30
seconds, an access token two hours, a refresh token (granted with ``offline.access``)
until it is used once (X rotates it)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field

from sandbox.clock import Clock
from sandbox.x.errors import SandboxError

CODE_TTL = 30
ACCESS_TTL = 7200


@dataclass
class App:
    id: str
    bearer_tokens: set[str] = field(default_factory=set)


@dataclass
class OAuthClient:
    client_id: str
    client_secret: str | None  # None: a public client (PKCE only)
    app_id: str
    redirect_uris: list[str]


@dataclass
class Grant:
    """What a code, access token or refresh token stands for."""

    client_id: str
    app_id: str
    account_id: str
    scopes: list[str]
    expires_at: float | None = None
    code_challenge: str = ""
    code_challenge_method: str = "S256"
    redirect_uri: str = ""


@dataclass(frozen=True)
class Credential:
    """Who is calling: an app alone, or a user through an app."""

    app_id: str
    account_id: str | None = None

    @property
    def user_context(self) -> bool:
        return self.account_id is not None

    @property
    def key(self) -> tuple[str, ...]:
        return ("user", self.app_id, self.account_id) if self.account_id else ("app", self.app_id)

    def __str__(self) -> str:
        return f"user:{self.account_id}@{self.app_id}" if self.account_id else f"app:{self.app_id}"


class OAuthError(Exception):
    """The token endpoint's refusal: ``{"error", "error_description"}``, 400 (401 for a
    client that failed to authenticate)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Auth:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.clear()

    def clear(self) -> None:
        self.apps: dict[str, App] = {}
        self.clients: dict[str, OAuthClient] = {}
        self.codes: dict[str, Grant] = {}
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}

    # ---- registration ------------------------------------------------------------------
    def add_app(self, bearer_token: str, app_id: str | None = None) -> App:
        app_id = app_id or f"app{len(self.apps) + 1}"
        if any(bearer_token in app.bearer_tokens for app in self.apps.values()):
            raise SandboxError("that bearer token is registered already", "token_taken", 409)
        app = self.apps.setdefault(app_id, App(app_id))
        app.bearer_tokens.add(bearer_token)
        return app

    def add_client(
        self,
        client_id: str,
        redirect_uris: list[str],
        *,
        client_secret: str | None = None,
        app_id: str | None = None,
    ) -> OAuthClient:
        if client_id in self.clients:
            raise SandboxError(f"client {client_id} exists", "client_taken", 409)
        app_id = app_id or f"app{len(self.apps) + 1}"
        app = self.apps.setdefault(app_id, App(app_id))
        client = OAuthClient(client_id, client_secret, app.id, list(redirect_uris))
        self.clients[client_id] = client
        return client

    # ---- who is calling ------------------------------------------------------------------
    def credential(self, token: str) -> Credential | None:
        for app in self.apps.values():
            if token in app.bearer_tokens:
                return Credential(app.id)
        grant = self.access.get(token)
        if grant is None or (grant.expires_at is not None and self.clock() >= grant.expires_at):
            return None
        return Credential(grant.app_id, grant.account_id)

    # ---- the authorization-code flow -------------------------------------------------
    def check_authorize(
        self, client_id: str, redirect_uri: str, challenge: str, method: str
    ) -> OAuthClient:
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_request", "Unknown client_id.")
        if redirect_uri not in client.redirect_uris:
            raise OAuthError("invalid_request", "redirect_uri does not match the app's.")
        if not challenge or method not in {"S256", "plain"}:
            raise OAuthError("invalid_request", "A code_challenge (S256 or plain) is required.")
        return client

    def approve(
        self,
        client: OAuthClient,
        account_id: str,
        scopes: list[str],
        redirect_uri: str,
        challenge: str,
        method: str,
    ) -> str:
        code = secrets.token_urlsafe(32)
        self.codes[code] = Grant(
            client.client_id,
            client.app_id,
            account_id,
            scopes,
            expires_at=self.clock() + CODE_TTL,
            code_challenge=challenge,
            code_challenge_method=method,
            redirect_uri=redirect_uri,
        )
        return code

    def _client(self, form: dict[str, str], basic: tuple[str, str] | None) -> OAuthClient:
        client_id = basic[0] if basic else form.get("client_id", "")
        client = self.clients.get(client_id)
        if client is None:
            raise OAuthError("invalid_client", "Missing or unknown client_id.", 401)
        if client.client_secret is not None:
            # A confidential client authenticates with Basic auth, as X requires.
            if basic is None or not secrets.compare_digest(basic[1], client.client_secret):
                raise OAuthError("unauthorized_client", "Missing valid authorization header", 401)
        return client

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict:
        client = self._client(form, basic)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            grant = self.codes.pop(form.get("code", ""), None)
            if (
                grant is None
                or grant.client_id != client.client_id
                or self.clock() >= (grant.expires_at or 0)
            ):
                raise OAuthError(
                    "invalid_request", "Value passed for the authorization code was invalid."
                )
            if form.get("redirect_uri") != grant.redirect_uri:
                raise OAuthError(
                    "invalid_request",
                    "Value passed for the redirect uri did not match the uri of the "
                    "authorization code.",
                )
            verifier = form.get("code_verifier", "")
            expected = s256(verifier) if grant.code_challenge_method == "S256" else verifier
            if not verifier or not secrets.compare_digest(expected, grant.code_challenge):
                raise OAuthError(
                    "invalid_request",
                    "Value passed for the code verifier did not match the code challenge.",
                )
        elif grant_type == "refresh_token":
            grant = self.refresh.pop(form.get("refresh_token", ""), None)
            if grant is None or grant.client_id != client.client_id:
                raise OAuthError("invalid_request", "Value passed for the token was invalid.")
        else:
            raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")
        return self._issue(grant)

    def _issue(self, grant: Grant) -> dict:
        access = secrets.token_urlsafe(32)
        self.access[access] = Grant(
            grant.client_id, grant.app_id, grant.account_id, grant.scopes,
            expires_at=self.clock() + ACCESS_TTL,
        )  # fmt: skip
        answer = {
            "token_type": "bearer",
            "expires_in": ACCESS_TTL,
            "access_token": access,
            "scope": " ".join(grant.scopes),
        }
        if "offline.access" in grant.scopes:
            refresh = secrets.token_urlsafe(32)
            self.refresh[refresh] = Grant(
                grant.client_id, grant.app_id, grant.account_id, grant.scopes
            )
            answer["refresh_token"] = refresh
        return answer

    def revoke(self, token: str) -> None:
        self.access.pop(token, None)
        self.refresh.pop(token, None)
