"""Tenants' X credentials: an app bearer token, and X accounts connected through OAuth 2.0
with PKCE (``credential_connect_start`` hands out X's consent URL, ``..._finish`` takes
X's callback, asks X whose token it is and stores it), refreshed before they expire
(``credential_token``). Tokens are encrypted at rest; the PKCE verifier of a flow under
way too. A callback is accepted only by the tenant that started its flow, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from django.conf import settings
from django.db import transaction
from oauthlib.oauth2.rfc6749.errors import InsecureTransportError, OAuth2Error

import history.services as history
from config.encryption import decrypt, encrypt
from config.errors import ServiceError
from xclient.models import Connect, Credential
from xclient.transport import OAuth2UserHandler, x_client

if TYPE_CHECKING:
    from tenancy.models import Tenant

SCOPES = ["tweet.read", "users.read", "follows.read", "like.read", "offline.access"]
TOKEN_URL = "https://api.x.com/2/oauth2/token"  # moved to X_API_BASE by the transport
CONNECT_TTL = timedelta(minutes=10)
REFRESH_AHEAD = timedelta(minutes=2)


def oauth_handler(redirect_uri: str, scopes: list[str] = SCOPES) -> OAuth2UserHandler:
    """The platform's OAuth 2.0 client (PKCE) asking for ``scopes``."""
    if not settings.X_OAUTH_CLIENT_ID:
        raise ServiceError("no X OAuth client is configured", code="x_not_configured", status=503)
    return OAuth2UserHandler(
        client_id=settings.X_OAUTH_CLIENT_ID,
        client_secret=settings.X_OAUTH_CLIENT_SECRET or None,
        redirect_uri=redirect_uri,
        scope=scopes,
    )


def credential_app_set(*, tenant: Tenant, bearer_token: str, actor: history.Actor) -> Credential:
    """Store (or replace) the tenant's app bearer token."""
    if not bearer_token.strip():
        raise ServiceError("the bearer token is empty", code="invalid_token")
    with transaction.atomic():
        credential, _ = Credential.objects.update_or_create(
            tenant=tenant,
            kind=Credential.Kind.APP,
            x_user_id=None,
            defaults={"access_token": encrypt(bearer_token.strip())},
        )
        history.record(
            action="xclient.app_token_set",
            actor=actor,
            tenant=tenant,
            target=("x_credential", credential.pk),
        )
    return credential


def credential_connect_start(
    *, tenant: Tenant, redirect_uri: str, actor: history.Actor | None = None
) -> str:
    """X's consent URL for connecting an X account to ``tenant`` (started by ``actor``)."""
    return connect_flow_start(
        tenant=tenant,
        redirect_uri=redirect_uri,
        scopes=SCOPES,
        started_by=actor.id if actor is not None and actor.type == "user" else "",
    )


def connect_flow_start(
    *, tenant: Tenant, redirect_uri: str, scopes: list[str], kind: str = "credential", **fields: Any
) -> str:
    """X's consent URL of a new PKCE flow of ``kind``; its state and (encrypted) verifier
    kept for ``CONNECT_TTL`` with ``fields`` (who started it)."""
    handler = oauth_handler(redirect_uri, scopes)
    url = handler.get_authorization_url()
    Connect.objects.filter(started_at__lt=datetime.now(UTC) - CONNECT_TTL).delete()
    Connect.objects.create(
        tenant=tenant,
        state=handler.consent_state,
        code_verifier=encrypt(handler.consent_verifier),
        redirect_uri=redirect_uri,
        kind=kind,
        **fields,
    )
    return url


def connect_flow_take(*, state: str, kind: str, tenant: Tenant | None = None) -> Connect:
    """The flow of ``kind`` that ``state`` names (of ``tenant``, when given), deleted: a
    state works once, whatever X answers next, and only for ``CONNECT_TTL``."""
    with transaction.atomic():
        flows = Connect.objects.select_for_update(of=("self",)).select_related("tenant", "user")
        flows = flows.filter(state=state, kind=kind)
        flow = flows.filter(tenant=tenant).first() if tenant is not None else flows.first()
        if flow is None or flow.started_at < datetime.now(UTC) - CONNECT_TTL:
            raise ServiceError("no connect flow has that state", code="unknown_state")
        flow.delete()
    return flow


def connect_token_fetch(*, flow: Connect, callback_url: str, scopes: list[str]) -> dict:
    """Exchange the code of X's callback with the flow's verifier: X's token."""
    handler = oauth_handler(flow.redirect_uri, scopes)
    handler.resume(state=flow.state, code_verifier=decrypt(flow.code_verifier))
    try:
        return dict(handler.fetch_token(callback_url))
    except InsecureTransportError as exc:
        raise ServiceError(
            "X's callback must reach the platform over https (on a development machine "
            "OAUTHLIB_INSECURE_TRANSPORT=1 allows http)",
            code="insecure_callback",
        ) from exc
    except OAuth2Error as exc:
        refused = f"X refused the code: {exc.description or exc.error}"
        raise ServiceError(refused, code="x_refused") from exc


def token_refresh(*, refresh_token: str, username: str, scopes: list[str] = SCOPES) -> dict:
    """New tokens for an encrypted ``refresh_token`` (X rotates it: store both)."""
    try:
        return dict(
            oauth_handler("", scopes).refresh_token(
                TOKEN_URL,
                refresh_token=decrypt(refresh_token),
                client_id=settings.X_OAUTH_CLIENT_ID,
            )
        )
    except OAuth2Error as exc:
        raise ServiceError(
            f"X refused to refresh the token of @{username}: reconnect the account",
            code="x_reconnect",
        ) from exc


def credential_connect_callback(*, callback_url: str) -> Credential:
    """X's redirect back to the platform's one callback URL: the flow its ``state`` names
    (unguessable, ten minutes, once) says which community connects the account and who
    started it."""
    state = state_of(callback_url)
    flow = Connect.objects.select_related("tenant").filter(state=state, kind="credential").first()
    if flow is None:
        raise ServiceError("no connect flow has that state", code="unknown_state")
    actor = history.Actor.user(int(flow.started_by)) if flow.started_by else history.SYSTEM
    return credential_connect_finish(tenant=flow.tenant, callback_url=callback_url, actor=actor)


def credential_remove(*, tenant: Tenant, credential_id: int, actor: history.Actor) -> None:
    """Forget one of ``tenant``'s credentials (its reads fall back to the platform's app)."""
    with transaction.atomic():
        credential = Credential.objects.filter(tenant=tenant, pk=credential_id).first()
        if credential is None:
            raise ServiceError(
                f"no X credential {credential_id} in this community",
                code="credential_not_found",
                status=404,
            )
        credential.delete()
        history.record(
            action="xclient.credential_removed",
            actor=actor,
            tenant=tenant,
            target=("x_credential", credential_id),
            data={"kind": credential.kind, "username": credential.username},
        )


def state_of(callback_url: str) -> str:
    return (parse_qs(urlparse(callback_url).query).get("state") or [""])[0]


def credential_connect_finish(
    *, tenant: Tenant, callback_url: str, actor: history.Actor
) -> Credential:
    """Take X's callback (``?state=...&code=...``): exchange the code with the flow's
    verifier, ask X which account the token is of, store the credential."""
    state = state_of(callback_url)
    try:
        flow = connect_flow_take(state=state, kind="credential", tenant=tenant)
    except ServiceError as exc:
        raise ServiceError(
            "no connect flow of this community has that state", code="unknown_state"
        ) from exc
    token = connect_token_fetch(flow=flow, callback_url=callback_url, scopes=SCOPES)
    me = x_client(bearer_token=token["access_token"]).get_me(user_auth=False).data
    with transaction.atomic():
        credential, _ = Credential.objects.update_or_create(
            tenant=tenant,
            kind=Credential.Kind.USER,
            x_user_id=int(me.id),
            defaults=token_fields(token) | {"username": me.username},
        )
        history.record(
            action="xclient.account_connected",
            actor=actor,
            tenant=tenant,
            target=("x_credential", credential.pk),
            data={"x_user_id": credential.x_user_id, "username": credential.username},
        )
    return credential


def credential_token(*, credential: Credential, now: datetime | None = None) -> str:
    """The credential's access token, refreshed first when it expires within
    ``REFRESH_AHEAD`` (the new tokens stored; X rotates refresh tokens)."""
    now = now or datetime.now(UTC)
    if credential.kind == Credential.Kind.APP or credential.expires_at is None:
        return decrypt(credential.access_token)
    with transaction.atomic():
        locked = Credential.objects.select_for_update().get(pk=credential.pk)
        if locked.expires_at is not None and locked.expires_at - REFRESH_AHEAD > now:
            return decrypt(locked.access_token)  # another process refreshed it meanwhile
        token = token_refresh(refresh_token=locked.refresh_token, username=locked.username)
        for field, value in token_fields(token).items():
            setattr(locked, field, value)
        locked.save()
    return str(token["access_token"])


def token_fields(token: dict) -> dict[str, object]:
    expires_in = token.get("expires_in")
    return {
        "access_token": encrypt(token["access_token"]),
        "refresh_token": encrypt(token["refresh_token"]) if token.get("refresh_token") else "",
        "expires_at": (
            datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
        ),
        "scopes": " ".join(token.get("scope") or []),
    }
