"""Accounts API: the authenticated user's own data, and the tenant's admins."""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import IsTenantOwner, ManageSettings
from accounts.roles import Capability, Role, effective_capabilities
from accounts.selectors import (
    membership_get,
    membership_list,
    user_capabilities,
    user_get,
    user_profile,
    user_role,
)
from accounts.services import membership_set_capabilities, user_update_preferences
from config.api import ApiError, CursorPagination, represent
from history.selectors import entry_list
from history.services import Actor
from tenancy.api import TenantEndpoint

PREFERENCE_KEY = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")
MAX_PREFERENCES = 50


class MeView(TenantEndpoint):
    class OutputSerializer(serializers.Serializer):
        telegram_id = serializers.IntegerField()
        username = serializers.CharField()
        first_name = serializers.CharField()
        last_name = serializers.CharField()
        language_code = serializers.CharField()
        photo_url = serializers.CharField()
        is_premium = serializers.BooleanField()
        language = serializers.CharField()
        notification_preferences = serializers.DictField(child=serializers.BooleanField())
        first_seen = serializers.DateTimeField()
        last_seen = serializers.DateTimeField()
        role = serializers.CharField()
        capabilities = serializers.ListField(child=serializers.CharField())

    class InputSerializer(serializers.Serializer):
        language = serializers.RegexField(
            r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$",
            required=False,
            allow_blank=True,
            help_text='BCP 47 tag such as "en" or "pt-BR"; empty: follow Telegram\'s language',
        )
        notification_preferences = serializers.DictField(
            child=serializers.BooleanField(),
            required=False,
            help_text="topic -> on/off; merged into the stored preferences",
        )

        def validate_notification_preferences(self, value: dict) -> dict:
            stored = getattr(self.context.get("user"), "notification_preferences", {})
            if len({**stored, **value}) > MAX_PREFERENCES:
                raise serializers.ValidationError(
                    f"at most {MAX_PREFERENCES} preferences", code="too_many"
                )
            bad = sorted(key for key in value if not PREFERENCE_KEY.match(key))
            if bad:
                raise serializers.ValidationError(
                    f"preference names are lowercase words joined by _ or .: {bad[0]!r}",
                    code="invalid",
                )
            return value

    USER_FIELDS = ("telegram_id", "language", "notification_preferences", "first_seen", "last_seen")

    def _output(self, request) -> dict:
        user, tenant = request.user, self.tenant
        # Names and photo as this tenant knows them (accounts.models.TenantProfile).
        data = user_profile(tenant=tenant, user=user)
        data.update({field: getattr(user, field) for field in self.USER_FIELDS})
        data["role"] = user_role(tenant=tenant, user=user).value
        data["capabilities"] = sorted(user_capabilities(tenant=tenant, user=user))
        return represent(self.OutputSerializer, data)

    @extend_schema(responses=OutputSerializer, summary="The authenticated user's profile")
    def get(self, request):
        return Response(self._output(request))

    @extend_schema(
        request=InputSerializer,
        responses=OutputSerializer,
        summary="Update language and notification preferences",
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data, context={"user": request.user})
        serializer.is_valid(raise_exception=True)
        user_update_preferences(
            user=request.user, tenant=self.tenant, request=request, **serializer.validated_data
        )
        return Response(self._output(request))


class MyActivityView(TenantEndpoint):
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        action = serializers.CharField()
        target_type = serializers.CharField()
        target_id = serializers.CharField()
        data = serializers.JSONField()  # type: ignore[assignment]  # a field, not Serializer.data
        created_at = serializers.DateTimeField()

    @extend_schema(responses=OutputSerializer(many=True), summary="The user's own audit entries")
    def get(self, request):
        entries = entry_list(
            tenant=self.tenant,
            actor_type="user",
            actor_id=str(request.user.telegram_id),
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


# ---- the tenant's admins -----------------------------------------------------------------
MANAGING_ROLES = [Role.OWNER, Role.ADMIN, Role.MODERATOR]


class AdminOutputSerializer(serializers.Serializer):
    telegram_id = serializers.IntegerField(source="user.telegram_id")
    # As this tenant knows them (accounts.selectors.membership_list).
    username = serializers.CharField(source="profile_username")
    first_name = serializers.CharField(source="profile_first_name")
    last_name = serializers.CharField(source="profile_last_name")
    role = serializers.CharField()
    capabilities = serializers.SerializerMethodField()
    granted = serializers.ListField(child=serializers.CharField())
    revoked = serializers.ListField(child=serializers.CharField())
    updated_at = serializers.DateTimeField()

    def get_capabilities(self, membership) -> list[str]:
        return sorted(
            effective_capabilities(membership.role, membership.granted, membership.revoked)
        )


class AdminListView(TenantEndpoint):
    permission_classes = [ManageSettings]

    @extend_schema(
        responses=AdminOutputSerializer(many=True),
        summary="The tenant's owner, admins and moderators with their capabilities",
    )
    def get(self, request):
        memberships = membership_list(tenant=self.tenant, roles=MANAGING_ROLES)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(memberships, request, view=self)
        return paginator.get_paginated_response(AdminOutputSerializer(page, many=True).data)


class AdminCapabilitiesView(TenantEndpoint):
    permission_classes = [IsTenantOwner]

    class InputSerializer(serializers.Serializer):
        grant = serializers.ListField(
            child=serializers.ChoiceField(choices=list(Capability)), required=False, default=list
        )
        revoke = serializers.ListField(
            child=serializers.ChoiceField(choices=list(Capability)), required=False, default=list
        )

        def validate(self, attrs):
            if not attrs["grant"] and not attrs["revoke"]:
                raise serializers.ValidationError(
                    "give at least one capability to grant or revoke", code="empty"
                )
            return attrs

    @extend_schema(
        request=InputSerializer,
        responses=AdminOutputSerializer,
        summary="Grant or revoke single capabilities of an admin or moderator",
    )
    def patch(self, request, telegram_id: int):
        tenant = self.tenant
        user = user_get(telegram_id=telegram_id)
        # A user without a role here is unknown to this tenant, whatever other tenants hold.
        if tenant is None or user is None or membership_get(tenant=tenant, user=user) is None:
            raise ApiError(
                f"user {telegram_id} has no role in this tenant",
                code="user_not_found",
                status_code=404,
            )
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = membership_set_capabilities(
            tenant=tenant,
            user=user,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        shown = membership_list(tenant=tenant).get(pk=membership.pk)
        return Response(AdminOutputSerializer(shown).data)
