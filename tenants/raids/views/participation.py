"""The raids API for anybody the community's bot knows (a Telegram user of the tenant):
the raids open to join, joining one, one's own progress, and the raids one joined."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.authentication import telegram_confirmed
from accounts.permissions import IsTelegramUser
from config.api import CursorPagination
from config.errors import ServiceError
from raids import selectors
from raids.models import Participant, Raid, Result
from raids.services.participation import raid_join
from raids.views.base import RAID_ID, RaidEndpoint
from raids.views.raids import RaidSummarySerializer

STATUS = OpenApiParameter("status", str, enum=Raid.Status.values, description="default: active")


class ResultSerializer(serializers.Serializer):
    task_id = serializers.IntegerField()
    kind = serializers.CharField(source="task.kind")
    points = serializers.IntegerField(source="task.points")
    params = serializers.DictField(source="task.params")
    status = serializers.CharField()
    verified_at = serializers.DateTimeField(allow_null=True)


class ParticipationSerializer(serializers.Serializer):
    raid = RaidSummarySerializer()
    role = serializers.CharField()
    status = serializers.CharField()
    x_username = serializers.CharField(help_text="the X account that joined, as X confirmed it")
    joined_at = serializers.DateTimeField()
    points = serializers.IntegerField()
    payout = serializers.IntegerField(help_text="minor units of the raid's currency")


class ProgressSerializer(ParticipationSerializer):
    tasks = ResultSerializer(many=True)


def progress_data(view: RaidEndpoint, participant: Participant) -> dict:
    data = dict(ParticipationSerializer(participant).data)
    results: list[Result] = selectors.participant_progress(
        tenant=view.tenant, participant=participant
    )
    data["tasks"] = ResultSerializer(results, many=True).data
    return data


class RaidListView(RaidEndpoint):
    """The community's raids for people who join them: the active ones by default."""

    permission_classes = [IsTelegramUser]

    @extend_schema(
        parameters=[STATUS], responses=RaidSummarySerializer(many=True), summary="Raids to join"
    )
    def get(self, request):
        raids = selectors.raid_list(
            tenant=self.tenant, status=request.query_params.get("status", Raid.Status.ACTIVE)
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(raids, request, self)
        return paginator.get_paginated_response(RaidSummarySerializer(page, many=True).data)


class RaidJoinView(RaidEndpoint):
    """Join a raid with one's linked X account (201; 200: already joined). Refusals say
    why in ``code``: raid_not_active, not_linked, link_unconfirmed, blocked,
    account_too_new, too_few_followers, not_a_member, level_too_low."""

    permission_classes = [IsTelegramUser]

    @extend_schema(
        parameters=[RAID_ID],
        request=None,
        responses={201: ProgressSerializer, 200: ProgressSerializer},
        summary="Join a raid",
    )
    def post(self, request, raid_id: int):
        raid = selectors.raid_get(tenant=self.tenant, raid_id=raid_id)
        participant, created = raid_join(
            tenant=self.tenant,
            raid=raid,
            user=request.user,
            confirmed=telegram_confirmed(request),
            request=request,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(progress_data(self, participant), status=code)


class RaidProgressView(RaidEndpoint):
    """One's own progress in a raid: each task of one's role and where it stands."""

    permission_classes = [IsTelegramUser]

    @extend_schema(parameters=[RAID_ID], responses=ProgressSerializer, summary="My progress")
    def get(self, request, raid_id: int):
        raid = selectors.raid_get(tenant=self.tenant, raid_id=raid_id)
        participant = selectors.participant_get(
            tenant=self.tenant, raid=raid, user_id=request.user.telegram_id
        )
        if participant is None:
            raise ServiceError("you have not joined this raid", code="not_joined", status=404)
        return Response(progress_data(self, participant))


class MyRaidsView(RaidEndpoint):
    """The raids one joined in this community, newest first: role, points and payout."""

    permission_classes = [IsTelegramUser]

    @extend_schema(responses=ParticipationSerializer(many=True), summary="My raids")
    def get(self, request):
        joined = selectors.raids_of_user(tenant=self.tenant, user_id=request.user.telegram_id)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(joined, request, self)
        return paginator.get_paginated_response(ParticipationSerializer(page, many=True).data)
