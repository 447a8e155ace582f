"""The X credentials API of a community: its own app token, and X accounts connected
through OAuth 2.0 (start the flow here; X sends the person back to ``/x/callback``,
``xclient.pages``). Tokens are write-only: no answer ever carries one."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from config.api import StrictSerializer
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from xclient.credentials import credential_app_set, credential_connect_start, credential_remove
from xclient.selectors import credential_list


class CredentialSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="app: the community's own app token; user: an X account")
    username = serializers.CharField(help_text="the X account, as X named it (user tokens)")
    x_user_id = serializers.IntegerField(allow_null=True)
    scopes = serializers.CharField()
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="refreshed before it comes (user tokens)"
    )
    updated_at = serializers.DateTimeField()


class _CredentialsEndpoint(TenantEndpoint):
    permission_classes = [ManageSettings]
    requires_community = True
    community_what = "X credentials belong"
    tenant: Tenant  # a community, by requires_community


class XCredentialListView(_CredentialsEndpoint):
    """The community's X credentials: its app token and the X accounts it connected."""

    @extend_schema(
        responses=inline_serializer(
            "XCredentials", {"credentials": CredentialSerializer(many=True)}
        ),
        summary="The X credentials",
    )
    def get(self, request):
        listed = CredentialSerializer(credential_list(tenant=self.tenant), many=True).data
        return Response({"credentials": listed})


class XAppTokenView(_CredentialsEndpoint):
    """Set (or replace) the community's own X app bearer token: its reads then use its
    own app's rate limits and bill its own app, not the platform's."""

    class InputSerializer(StrictSerializer):
        bearer_token = serializers.CharField(max_length=500, trim_whitespace=True)

    @extend_schema(
        request=InputSerializer, responses=CredentialSerializer, summary="Set the app token"
    )
    def put(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credential = credential_app_set(
            tenant=self.tenant,
            bearer_token=serializer.validated_data["bearer_token"],
            actor=Actor.user(request.user),
        )
        return Response(CredentialSerializer(credential).data)


class XCredentialDetailView(_CredentialsEndpoint):
    """Remove one credential (reads fall back to the platform's app token)."""

    @extend_schema(responses={204: None}, summary="Remove an X credential")
    def delete(self, request, credential_id: int):
        credential_remove(
            tenant=self.tenant, credential_id=credential_id, actor=Actor.user(request.user)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def redirect_uri(request: Request) -> str:
    """Where X sends the person back: ``X_OAUTH_REDIRECT_URI``, or /x/callback on the
    platform's own domain (one address to register on the OAuth client, whatever the
    community's domain)."""
    if settings.X_OAUTH_REDIRECT_URI:
        return str(settings.X_OAUTH_REDIRECT_URI)
    port = request.get_port()
    default = "443" if request.is_secure() else "80"
    host = settings.PUBLIC_DOMAIN + ("" if port == default else f":{port}")
    return f"{request.scheme}://{host}{reverse('x-connect-callback')}"


class XConnectView(_CredentialsEndpoint):
    """Start connecting an X account: open ``authorize_url``, approve on X; X sends the
    browser back to the platform, which stores the account's token for this community
    (the link works once, for ten minutes)."""

    @extend_schema(
        request=None,
        responses=inline_serializer("XConnect", {"authorize_url": serializers.URLField()}),
        summary="Start connecting an X account (OAuth 2.0 with PKCE)",
    )
    def post(self, request):
        url = credential_connect_start(
            tenant=self.tenant, redirect_uri=redirect_uri(request), actor=Actor.user(request.user)
        )
        return Response({"authorize_url": url})
