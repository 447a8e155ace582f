"""The peer of ``GET /api/v1/me`` in the api_me benchmark: the same answer built the way
a django-tenants + DRF project conventionally builds it, served by the same process.

- ``TenantMainMiddleware`` as django-tenants ships it (a domain query and a
  ``SET search_path`` per request), then Django's stock session, auth and messages
  middleware (``PEER_MIDDLEWARE`` in bench/settings.py);
- DRF's ``TokenAuthentication`` (Django's ``User`` with a ``Token``: one query) and
  ``IsAuthenticated``;
- a ``ModelSerializer`` over the same ``TelegramUser``, ``Membership`` and
  ``TenantProfile`` rows the product's /me reads: the membership with its user by
  ``select_related`` (one query), then the tenant's own profile of the user (one more:
  a reverse relation cannot be joined by ``select_related``). The User's username is
  the Telegram id, which links the two.

Requests under ``PEER_PREFIX`` reach it through bench/http_app.py's front middleware,
which hands them to ``PeerHandler``: Django's request handler built from the peer's
middleware list, so the peer never runs the product's middleware.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.handlers.base import BaseHandler
from django.test.utils import override_settings
from rest_framework import serializers
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView, exception_handler

from accounts.models import Membership, TelegramUser, TenantProfile
from accounts.roles import ALL_CAPABILITIES, Role, effective_capabilities
from accounts.selectors import PROFILE_FIELDS

PEER_PREFIX = "/peer/"
PEER_ME_PATH = PEER_PREFIX + "api/v1/me"


class PeerMeSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()

    class Meta:
        model = TelegramUser
        fields = [
            "telegram_id",
            *PROFILE_FIELDS,
            "language",
            "notification_preferences",
            "first_seen",
            "last_seen",
            "role",
            "capabilities",
        ]

    def to_representation(self, user: TelegramUser) -> dict[str, Any]:
        data = super().to_representation(user)
        local = self.context["profile"]  # what this tenant's bot signed, shown here only
        if local is not None:
            data.update({field: getattr(local, field) for field in PROFILE_FIELDS})
        return data

    def get_role(self, user: TelegramUser) -> str:
        membership = self.context["membership"]
        return membership.role if membership else Role.MEMBER.value

    def get_capabilities(self, user: TelegramUser) -> list[str]:
        membership = self.context["membership"]
        if user.is_staff:
            return sorted(ALL_CAPABILITIES)
        if membership is None:
            return sorted(effective_capabilities(Role.MEMBER))
        return sorted(
            effective_capabilities(membership.role, membership.granted, membership.revoked)
        )


class PeerMeView(APIView):
    # DRF's stock classes, named here because the project's defaults are the product's.
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    content_negotiation_class = DefaultContentNegotiation

    def get_exception_handler(self) -> Any:
        return exception_handler

    def get(self, request):
        telegram_id = int(request.user.username)
        membership = (
            Membership.objects.select_related("user")
            .filter(tenant=request.tenant, user__telegram_id=telegram_id)
            .first()
        )
        user = membership.user if membership else TelegramUser.objects.get(telegram_id=telegram_id)
        profile = TenantProfile.objects.filter(tenant=request.tenant, user=user).first()
        context = {"membership": membership, "profile": profile}
        return Response(PeerMeSerializer(user, context=context).data)


class PeerHandler(BaseHandler):
    """Django's request handler with the peer's middleware list instead of MIDDLEWARE."""

    def __init__(self) -> None:
        super().__init__()
        with override_settings(MIDDLEWARE=settings.PEER_MIDDLEWARE):
            self.load_middleware()


def peer_account_create(*, telegram_id: int) -> str:
    """The peer's account for ``telegram_id`` (Django's User named by the Telegram id,
    with a DRF Token); returns the token key."""
    user = User.objects.create_user(username=str(telegram_id))
    return Token.objects.create(user=user).key
