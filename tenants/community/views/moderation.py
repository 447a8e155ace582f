"""Moderation API (capability ``moderate``): a group's rules and its moderation log."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import HasCapability
from accounts.roles import Capability
from community import selectors, services
from community.models import ModerationAction
from community.rules import ACTIONS, LADDER_ACTIONS
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from history.services import Actor

Moderate = HasCapability.of(Capability.MODERATE)


def _mute_seconds():
    return serializers.IntegerField(
        required=False, help_text="mute length when the action is mute (30 s to 366 days)"
    )


class FloodSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    messages = serializers.IntegerField(required=False, help_text="at most this many (2-100)")
    seconds = serializers.IntegerField(required=False, help_text="within this window (1-300)")
    action = serializers.ChoiceField(ACTIONS, required=False)
    mute_seconds = _mute_seconds()


class NewMembersSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    hours = serializers.IntegerField(required=False, help_text="how long a member is new (1-720)")
    block_links = serializers.BooleanField(required=False)
    block_forwards = serializers.BooleanField(required=False)
    action = serializers.ChoiceField(ACTIONS, required=False)
    mute_seconds = _mute_seconds()


class BlocklistSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    words = serializers.ListField(
        child=serializers.CharField(trim_whitespace=False),
        required=False,
        help_text="whole words or phrases, case-insensitive; '*' at the start or end of a "
        "word for any letters there ('scam*'), alone for any one word; at most 500",
    )
    action = serializers.ChoiceField(ACTIONS, required=False)
    mute_seconds = _mute_seconds()


class LadderStepSerializer(StrictSerializer):
    action = serializers.ChoiceField(LADDER_ACTIONS)
    mute_seconds = _mute_seconds()


class EscalationSerializer(StrictSerializer):
    ladder = LadderStepSerializer(many=True, required=False, help_text="1 to 10 steps")
    window_hours = serializers.IntegerField(
        required=False, help_text="strikes older than this expire (1-8760)"
    )


class CaptchaSerializer(StrictSerializer):
    enabled = serializers.BooleanField(required=False)
    timeout_seconds = serializers.IntegerField(
        required=False, help_text="unverified members are removed after this (30-86400)"
    )


class RulesSerializer(StrictSerializer):
    enabled = serializers.BooleanField(
        required=False, help_text="the group's moderation switch (features.moderation)"
    )
    flood = FloodSerializer(required=False)
    new_members = NewMembersSerializer(required=False)
    blocklist = BlocklistSerializer(required=False)
    escalation = EscalationSerializer(required=False)
    captcha = CaptchaSerializer(required=False)


class GroupModerationView(GroupEndpoint):
    permission_classes = [Moderate]
    InputSerializer = RulesSerializer
    OutputSerializer = RulesSerializer

    @extend_schema(
        parameters=[CHAT_ID], responses=RulesSerializer, summary="A group's moderation rules"
    )
    def get(self, request, chat_id: int):
        rules = selectors.moderation_rules_get(tenant=self.tenant, chat_id=chat_id)
        return Response(rules)

    @extend_schema(
        parameters=[CHAT_ID],
        request=RulesSerializer,
        responses=RulesSerializer,
        summary="Replace a group's moderation rules (omitted parts take the defaults)",
    )
    def put(self, request, chat_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The service validates the document itself (ranges, patterns, the ladder):
        # the same rules hold for every caller, not only this view.
        rules = services.moderation_rules_update(
            tenant=self.tenant,
            chat_id=chat_id,
            rules=request.data,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(rules)


class ModerationActionOutputSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="detail")

    class Meta:
        model = ModerationAction
        fields = [
            "id",
            "user_id",
            "user_name",
            "rule",
            "pattern",
            "reason",
            "excerpt",
            "action",
            "strike",
            "until",
            "message_id",
            "error",
            "created_at",
        ]


class GroupModerationActionsView(GroupEndpoint):
    permission_classes = [Moderate]
    OutputSerializer = ModerationActionOutputSerializer

    @extend_schema(
        parameters=[
            CHAT_ID,
            OpenApiParameter("user_id", int, description="only this Telegram user"),
            OpenApiParameter(
                "rule", str, enum=list(ModerationAction.Rule.values), description="only this rule"
            ),
        ],
        responses=ModerationActionOutputSerializer(many=True),
        summary="What the bot did in a group and why (newest first)",
    )
    def get(self, request, chat_id: int):
        params = self.FilterSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.moderation_action_list(
            tenant=self.tenant, chat_id=chat_id, **params.validated_data
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    class FilterSerializer(serializers.Serializer):
        user_id = serializers.IntegerField(required=False)
        rule = serializers.ChoiceField(ModerationAction.Rule.values, required=False)
