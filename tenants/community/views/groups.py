"""Group API: the tenant's groups, their settings, link codes and admin refresh.

Every view needs manage_settings in the request's tenant; DRF checks permissions before
the tenant's community is resolved (``tenancy.api.TenantEndpoint``), so a refused call
answers 403 before any lookup (a permitted call for an unknown chat answers 404)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from community import services
from community.models import FEATURE_DEFAULTS
from community.selectors import bound_group_get, group_list
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)


class GroupEndpoint(TenantEndpoint):
    # The community's groups live in its schema: the platform's own domain answers 404
    # not_a_community. (No docstring: it would describe every group view in OpenAPI.)
    requires_community = True
    community_what = "groups belong"
    tenant: Tenant  # a community, by requires_community


class GroupOutputSerializer(serializers.Serializer):
    chat_id = serializers.IntegerField()
    title = serializers.CharField()
    language = serializers.CharField()
    timezone = serializers.CharField()
    welcome_text = serializers.CharField()
    features = serializers.DictField(child=serializers.BooleanField(), source="effective_features")
    bound_at = serializers.DateTimeField(allow_null=True)
    admins_synced_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField()


class GroupListView(GroupEndpoint):
    permission_classes = [ManageSettings]
    OutputSerializer = GroupOutputSerializer

    @extend_schema(
        responses=GroupOutputSerializer(many=True), summary="This community's bound Telegram groups"
    )
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(group_list(tenant=self.tenant), request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)


class GroupSettingsView(GroupEndpoint):
    permission_classes = [ManageSettings]
    OutputSerializer = GroupOutputSerializer

    class InputSerializer(StrictSerializer):
        title = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
        language = serializers.CharField(required=False)
        timezone = serializers.CharField(required=False)
        welcome_text = serializers.CharField(
            required=False, allow_blank=True, trim_whitespace=False
        )
        features = serializers.DictField(
            required=False, help_text="switches to change: " + ", ".join(FEATURE_DEFAULTS)
        )

    @extend_schema(
        parameters=[CHAT_ID], responses=GroupOutputSerializer, summary="A group's settings"
    )
    def get(self, request, chat_id: int):
        group = bound_group_get(tenant=self.tenant, chat_id=chat_id)
        return Response(self.OutputSerializer(group).data)

    @extend_schema(
        request=InputSerializer,
        responses=GroupOutputSerializer,
        parameters=[CHAT_ID],
        summary="Change a group's settings (only the fields given)",
    )
    def patch(self, request, chat_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = services.group_settings_update(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        return Response(self.OutputSerializer(group).data)


class GroupLinkCodeView(GroupEndpoint):
    permission_classes = [ManageSettings]

    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        command = serializers.CharField()
        instructions = serializers.CharField()
        expires_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses={201: OutputSerializer},
        summary="A one-time code that binds a group when sent there as /bind CODE",
    )
    def post(self, request):
        link = services.group_link_code_create(
            tenant=self.tenant, created_by=request.user, request=request
        )
        minutes = int(services.LINK_CODE_TTL.total_seconds() // 60)
        command = f"/bind {link.code}"
        data = {
            "code": link.code,
            "command": command,
            "instructions": (
                "Add this community's bot to your Telegram group, then send "
                f"{command} in the group within {minutes} minutes. You must be an "
                "administrator of the group; the code works once."
            ),
            "expires_at": link.expires_at,
        }
        return Response(self.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class GroupAdminsRefreshView(GroupEndpoint):
    permission_classes = [ManageSettings]

    class OutputSerializer(serializers.Serializer):
        added = serializers.ListField(child=serializers.IntegerField())
        removed = serializers.ListField(child=serializers.IntegerField())
        unchanged = serializers.ListField(child=serializers.IntegerField())
        synced_at = serializers.DateTimeField()

    @extend_schema(
        request=None,
        responses=OutputSerializer,
        parameters=[CHAT_ID],
        summary="Sync the group's admins with Telegram now",
    )
    def post(self, request, chat_id: int):
        summary = services.admins_refresh(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(self.OutputSerializer(summary).data)
