"""Leaderboard API: a group's top members (any user of the community)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import IsTelegramUser
from community.selectors import PERIODS, TOP_DEFAULT, leaderboard_top
from community.views.groups import CHAT_ID, GroupEndpoint


class GroupLeaderboardView(GroupEndpoint):
    permission_classes = [IsTelegramUser]

    class InputSerializer(serializers.Serializer):
        period = serializers.ChoiceField(PERIODS, required=False, default="week")
        limit = serializers.IntegerField(
            required=False, default=TOP_DEFAULT, min_value=1, max_value=100
        )

    class OutputSerializer(serializers.Serializer):
        class EntrySerializer(serializers.Serializer):
            rank = serializers.IntegerField()
            user_id = serializers.IntegerField()
            name = serializers.CharField()
            username = serializers.CharField()
            messages = serializers.IntegerField()
            xp = serializers.IntegerField()

        chat_id = serializers.IntegerField()
        period = serializers.CharField()
        since = serializers.DateField(allow_null=True, help_text="first day counted (local)")
        today = serializers.DateField(help_text="the group's local date")
        results = EntrySerializer(many=True, source="entries")

    @extend_schema(
        parameters=[
            CHAT_ID,
            OpenApiParameter(
                "period",
                str,
                enum=list(PERIODS),
                description="day (today), week (last 7 days) or all (all time); default week",
            ),
            OpenApiParameter("limit", int, description="how many (1-100, default 10)"),
        ],
        responses=OutputSerializer,
        summary="A group's top members by XP",
    )
    def get(self, request, chat_id: int):
        params = self.InputSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        board = leaderboard_top(tenant=self.tenant, chat_id=chat_id, **params.validated_data)
        return Response(self.OutputSerializer(board).data)
