"""A group's raid templates (``manage_raids``): what its raids look like, and, with a
project X account, the auto-raids every new post of that account starts."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageRaids
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from raids.models import RaidTemplate
from raids.selectors import template_list
from raids.services.templates import template_remove, template_set

TEMPLATE_ID = OpenApiParameter(
    "template_id", int, OpenApiParameter.PATH, description="the template's id"
)


class TemplateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    name = serializers.CharField()
    x_user_id = serializers.CharField(
        allow_null=True, help_text="the project's X account (its posts start raids), as X says"
    )
    username = serializers.SerializerMethodField(help_text="the project's X handle, or empty")
    is_active = serializers.BooleanField()
    spec = serializers.DictField(help_text="the raid each post starts (see the input)")
    created_at = serializers.DateTimeField()

    def get_username(self, template: RaidTemplate) -> str:
        return str(template.spec.get("username", ""))


class TemplateInputSerializer(StrictSerializer):
    name = serializers.CharField(max_length=64, help_text="one template of that name per group")
    username = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="the project's X handle: each new original post of it becomes a raid",
    )
    is_active = serializers.BooleanField(default=True)
    spec = serializers.DictField(
        help_text=(
            "the raid: tasks, duration_minutes (5 to 43200, default 60), currency, "
            "pool_amount (minor units), formula and formula_params, and optionally title, "
            "min_account_age_days, min_followers, members_only, min_level, "
            "unverifiable_scores, grace_seconds (as creating a raid takes them)"
        )
    )


class TemplateListView(GroupEndpoint):
    """A group's raid templates; POST creates or replaces the one of that name."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID], responses=TemplateSerializer(many=True), summary="Raid templates"
    )
    def get(self, request, chat_id: int):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            template_list(tenant=self.tenant, chat_id=chat_id), request, self
        )
        return paginator.get_paginated_response(TemplateSerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=TemplateInputSerializer,
        responses={200: TemplateSerializer, 201: TemplateSerializer},
        summary="Create or replace a raid template (auto-raids with a project account)",
    )
    def post(self, request, chat_id: int):
        data = TemplateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        template, created = template_set(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
            **data.validated_data,
        )
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(TemplateSerializer(template).data, status=answer)


class TemplateDetailView(GroupEndpoint):
    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID, TEMPLATE_ID], responses={204: None}, summary="Remove a template"
    )
    def delete(self, request, chat_id: int, template_id: int):
        template_remove(
            tenant=self.tenant,
            chat_id=chat_id,
            template_id=template_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
