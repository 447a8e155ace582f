"""Raid rewards in the API: a raid's results per participant (``manage_raids``), its
published payout report byte for byte with its SHA-256 (any user of the community: the
report is what the group was told about), and the user's own rewards across raids."""

from __future__ import annotations

import logging

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers

from accounts.permissions import ManageRaids
from config.api import CursorPagination
from config.csv_export import CsvExport
from config.errors import ServiceError
from raids.models import Participant
from raids.results import participants_with_tally, raid_get, rewards_of_user
from raids.views.base import RAID_ID, RaidEndpoint
from wallet.currencies import amount_decimal, currencies

logger = logging.getLogger(__name__)

DIGEST_HEADER = "X-Content-SHA256"


class ByJoinPagination(CursorPagination):
    ordering = "id"


def _units(amount: int, currency: str) -> str:
    return amount_decimal(amount, currencies().get(currency, 0))


class RaidResultsView(RaidEndpoint):
    """Each participant of a raid (in join order, paged): status, points, the tally of
    their tasks, and their payout once the raid is settled."""

    permission_classes = [ManageRaids]
    pagination_class = ByJoinPagination

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        user_id = serializers.IntegerField(help_text="Telegram id")
        x_user_id = serializers.CharField(help_text="X's id (a string: 64 bits)")
        x_username = serializers.CharField()
        role = serializers.CharField()
        status = serializers.CharField(help_text="active, or excluded by anti-fraud")
        joined_at = serializers.DateTimeField()
        points = serializers.IntegerField()
        verified = serializers.IntegerField()
        unverifiable = serializers.IntegerField()
        failed = serializers.IntegerField()
        pending = serializers.IntegerField()
        payout = serializers.IntegerField(help_text="minor units; 0 until settled")
        amount = serializers.SerializerMethodField(help_text='the payout in units, e.g. "1.5"')
        currency = serializers.SerializerMethodField()
        notified_at = serializers.DateTimeField(allow_null=True)

        def get_amount(self, participant: Participant) -> str:
            return _units(participant.payout, self.context["currency"])

        def get_currency(self, participant: Participant) -> str:
            return str(self.context["currency"])

    @extend_schema(
        parameters=[RAID_ID], responses=OutputSerializer(many=True), summary="A raid's results"
    )
    def get(self, request, raid_id: int):
        raid = raid_get(raid_id=raid_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(participants_with_tally(raid=raid), request, self)
        data = self.OutputSerializer(page, many=True, context={"currency": raid.currency}).data
        return paginator.get_paginated_response(data)


class RaidReportCsvView(CsvExport, RaidEndpoint):
    """The payout report of a settled raid exactly as published (its SHA-256 in the
    ``X-Content-SHA256`` header, in the group's results message and in the audit log)."""

    @extend_schema(
        parameters=[RAID_ID],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="user_id, x_username, points, verified_tasks, amount, "
                "amount_minor, currency; one row per active participant in rank order",
            )
        },
        summary="A raid's payout report (CSV)",
    )
    def get(self, request, raid_id: int):
        raid = raid_get(raid_id=raid_id)
        if not raid.report_sha256:
            raise ServiceError(
                "the report is published when the raid is settled",
                code="report_not_ready",
                status=409,
            )
        response = HttpResponse(raid.report_csv.encode(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="raid-{raid.pk}-report.csv"'
        response[DIGEST_HEADER] = raid.report_sha256
        return response


class MyRewardsView(RaidEndpoint):
    """The user's results in this community's settled raids, newest first (paged)."""

    class OutputSerializer(serializers.Serializer):
        raid_id = serializers.IntegerField(source="raid.id")
        title = serializers.CharField(source="raid.title")
        post_url = serializers.CharField(source="raid.post_url")
        settled_at = serializers.DateTimeField(source="raid.settled_at")
        status = serializers.CharField(help_text="active, or excluded by anti-fraud")
        points = serializers.IntegerField()
        verified = serializers.IntegerField()
        payout = serializers.IntegerField(help_text="minor units")
        amount = serializers.SerializerMethodField(help_text='the payout in units, e.g. "1.5"')
        currency = serializers.CharField(source="raid.currency")

        def get_amount(self, participant: Participant) -> str:
            return _units(participant.payout, participant.raid.currency)

    @extend_schema(responses=OutputSerializer(many=True), summary="My raid rewards")
    def get(self, request):
        paginator = CursorPagination()
        rows = rewards_of_user(user_id=request.user.telegram_id)
        page = paginator.paginate_queryset(rows, request, self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)
