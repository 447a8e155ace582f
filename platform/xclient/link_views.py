"""The user's own X account link, on any tenant's domain (Mini App initData): see it,
link through X's consent or a one-time code, verify the code, unlink. A user reaches
only their own link; no answer carries a token."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.authentication import telegram_confirmed
from config.api import StrictSerializer
from tenancy.api import TenantEndpoint
from xclient.credential_views import redirect_uri
from xclient.links import (
    CODE_TTL,
    link_code_start,
    link_code_verify,
    link_oauth_start,
    link_remove,
)
from xclient.selectors import link_active, link_code_pending


class LinkSerializer(serializers.Serializer):
    x_user_id = serializers.CharField(
        help_text="the X account, as X named it (a string: X ids pass JavaScript's 2^53)"
    )
    username = serializers.CharField()
    x_created_at = serializers.DateTimeField(allow_null=True, help_text="the account's age")
    followers = serializers.IntegerField()
    via = serializers.CharField(help_text="oauth: X's consent; code: a posted one-time code")
    linked_at = serializers.DateTimeField()
    refreshed_at = serializers.DateTimeField(help_text="when X's figures were last read")


class PendingCodeSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="the X handle the code must be posted from")
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()


def instructions(pending) -> str:
    minutes = int(CODE_TTL.total_seconds() // 60)
    return (
        f"Post {pending.code} from @{pending.username} on X within {minutes} minutes "
        "(any post containing it), then verify. You can delete the post afterwards."
    )


class MyXLinkView(TenantEndpoint):
    """The user's linked X account (null when none) and the code waiting to be posted."""

    @extend_schema(
        responses=inline_serializer(
            "MyXLink",
            {
                "link": LinkSerializer(allow_null=True),
                "pending_code": PendingCodeSerializer(allow_null=True),
            },
        ),
        summary="My linked X account",
    )
    def get(self, request):
        link = link_active(user=request.user)
        pending = link_code_pending(user=request.user)
        return Response(
            {
                "link": LinkSerializer(link).data if link else None,
                "pending_code": PendingCodeSerializer(pending).data if pending else None,
            }
        )

    @extend_schema(responses={204: None}, summary="Unlink my X account")
    def delete(self, request):
        link_remove(user=request.user, confirmed=telegram_confirmed(request), tenant=self.tenant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MyXLinkStartView(TenantEndpoint):
    """Start linking an X account: ``oauth`` answers X's consent URL (approve there; X
    sends the browser back to the platform, which links the account X names: the link
    works once, for ten minutes); ``code`` answers a one-time code to post from
    ``username`` (30 minutes), then ``POST /me/x/verify``."""

    class InputSerializer(StrictSerializer):
        method = serializers.ChoiceField(choices=["oauth", "code"])
        username = serializers.CharField(
            max_length=16, required=False, help_text="the X handle (code method)"
        )

        def validate(self, attrs: dict) -> dict:
            if attrs["method"] == "code" and not attrs.get("username"):
                raise serializers.ValidationError(
                    {"username": "the code method needs the X handle"}, code="required"
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses=inline_serializer(
            "XLinkStarted",
            {
                "method": serializers.CharField(),
                "authorize_url": serializers.URLField(required=False),
                "code": serializers.CharField(required=False),
                "username": serializers.CharField(required=False),
                "expires_at": serializers.DateTimeField(required=False),
                "instructions": serializers.CharField(),
            },
        ),
        summary="Start linking my X account",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        confirmed = telegram_confirmed(request)
        assert self.tenant is not None  # TenantMainMiddleware always names one
        if data["method"] == "oauth":
            url = link_oauth_start(
                user=request.user,
                tenant=self.tenant,
                redirect_uri=redirect_uri(request),
                confirmed=confirmed,
            )
            return Response(
                {
                    "method": "oauth",
                    "authorize_url": url,
                    "instructions": "Open the link, approve on X; you are sent back here.",
                }
            )
        pending = link_code_start(
            user=request.user, tenant=self.tenant, username=data["username"], confirmed=confirmed
        )
        answer = PendingCodeSerializer(pending).data
        return Response({"method": "code", **answer, "instructions": instructions(pending)})


class MyXLinkVerifyView(TenantEndpoint):
    """Check that the code was posted from the X account named, and link the account X
    says posted it (the code then works no more)."""

    @extend_schema(request=None, responses=LinkSerializer, summary="Verify my posted code")
    def post(self, request):
        link = link_code_verify(user=request.user)
        return Response(LinkSerializer(link).data)
