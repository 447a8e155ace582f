"""The EXP contest API of a group: admins (``manage_raids``) open and cancel contests;
any user of the community lists them and reads the standings (live until the end, the
stored final table after settlement)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.permissions import IsTelegramUser, ManageRaids
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from raids.models import Contest
from raids.selectors_giveaways import contest_get, contest_list, contest_standings
from raids.services.contests import MAX_PRIZES, MAX_TITLE, contest_cancel, contest_create
from raids.views.giveaways import MAX_AMOUNT
from tenancy.models import Tenant

CONTEST_ID = OpenApiParameter("contest_id", int, OpenApiParameter.PATH, description="its id")


class ContestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    title = serializers.CharField()
    currency = serializers.CharField()
    prizes = serializers.ListField(child=serializers.IntegerField(), help_text="minor units")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    settled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class StandingSerializer(serializers.Serializer):
    rank = serializers.IntegerField(help_text="ties share a rank")
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    xp = serializers.IntegerField(help_text="EXP in the contest: message XP and raid points")
    prize = serializers.IntegerField(help_text="minor units (0 until settled)")


class ContestDetailSerializer(ContestSerializer):
    standings = StandingSerializer(many=True)
    final = serializers.BooleanField(help_text="the stored table of a settled contest")


class ContestInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=MAX_TITLE)
    currency = serializers.CharField(max_length=8, default="USDT")
    prizes = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT),
        min_length=1,
        max_length=MAX_PRIZES,
        help_text="minor units, first place first",
    )
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class ContestListView(GroupEndpoint):
    """A group's EXP contests, newest first (any user of the community); POST opens one
    (``manage_raids``): the prizes' sum is escrowed."""

    def get_permissions(self) -> list[BasePermission]:
        permission = ManageRaids if self.request.method == "POST" else IsTelegramUser
        return [permission()]

    @extend_schema(
        parameters=[CHAT_ID], responses=ContestSerializer(many=True), summary="A group's contests"
    )
    def get(self, request, chat_id: int):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            contest_list(tenant=self.tenant, chat_id=chat_id), request, self
        )
        return paginator.get_paginated_response(ContestSerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=ContestInputSerializer,
        responses={201: ContestSerializer},
        summary="Open an EXP contest (its prizes escrowed)",
    )
    def post(self, request, chat_id: int):
        data = ContestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contest = contest_create(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            **data.validated_data,
        )
        return Response(ContestSerializer(contest).data, status=status.HTTP_201_CREATED)


def contest_view(tenant: Tenant, contest: Contest) -> dict[str, Any]:
    """A contest with its standings: the stored table once settled, else live."""
    final = contest.status == Contest.Status.SETTLED
    if final:
        standings = list(contest.standings)
    elif contest.status == Contest.Status.CANCELLED:
        standings = []
    else:
        standings = [
            {**s.as_dict(), "prize": 0} for s in contest_standings(tenant=tenant, contest=contest)
        ]
    return {**ContestSerializer(contest).data, "standings": standings, "final": final}


class ContestDetailView(GroupEndpoint):
    """One contest with its standings."""

    permission_classes = [IsTelegramUser]

    @extend_schema(
        parameters=[CHAT_ID, CONTEST_ID],
        responses=ContestDetailSerializer,
        summary="A contest and its standings",
    )
    def get(self, request, chat_id: int, contest_id: int):
        contest = contest_get(tenant=self.tenant, chat_id=chat_id, contest_id=contest_id)
        return Response(ContestDetailSerializer(contest_view(self.tenant, contest)).data)


class ContestCancelView(GroupEndpoint):
    """Cancel a contest not settled yet: the prizes go back to the group."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID, CONTEST_ID],
        request=None,
        responses=ContestSerializer,
        summary="Cancel a contest",
    )
    def post(self, request, chat_id: int, contest_id: int):
        contest = contest_cancel(
            tenant=self.tenant,
            contest=contest_get(tenant=self.tenant, chat_id=chat_id, contest_id=contest_id),
            actor=Actor.user(request.user),
        )
        return Response(ContestSerializer(contest).data)
