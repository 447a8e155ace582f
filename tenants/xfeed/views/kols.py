"""The KOL API of a community (``manage_settings``): its KOLs, their tracked posts with
engagement snapshots, and the report per KOL and campaign as JSON or CSV."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from config.api import CursorPagination, StrictSerializer
from config.csv_export import CsvExport, csv_response, csv_writer
from config.errors import ServiceError
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet.currencies import amount_decimal, currencies
from xfeed import reports, selectors
from xfeed.models import Kol
from xfeed.services.kols import CAMPAIGN, MAX_CAMPAIGNS, MAX_RATE, kol_remove, kol_set

logger = logging.getLogger(__name__)

KOL_ID = OpenApiParameter("kol_id", int, OpenApiParameter.PATH, description="the KOL's id")
REPORT_PARAMS = [
    OpenApiParameter(
        "from", OpenApiTypes.DATE, description="first UTC day (default: 29 days before to)"
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.DATE,
        description="last UTC day, included (default: today); at most 366 days",
    ),
    OpenApiParameter("campaign", str, description="only this campaign tag"),
]


class KolSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    x_user_id = serializers.CharField(help_text="X's id of the account (a string: 64 bits)")
    username = serializers.CharField(help_text="the handle as X spells it")
    tier = serializers.CharField()
    rate_amount = serializers.IntegerField(help_text="minor units of rate_currency")
    rate = serializers.SerializerMethodField(help_text='the same in units, e.g. "1.5"')
    rate_currency = serializers.CharField()
    billing = serializers.CharField()
    payout_address = serializers.CharField()
    notes = serializers.CharField()
    campaigns = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_rate(self, kol: Kol) -> str:
        return amount_decimal(kol.rate_amount, currencies().get(kol.rate_currency, 0))


class KolInputSerializer(StrictSerializer):
    username = serializers.CharField(max_length=16, help_text="the X handle, with or without @")
    tier = serializers.ChoiceField(Kol.Tier.choices, default=Kol.Tier.MICRO)
    rate_amount = serializers.IntegerField(
        min_value=0, max_value=MAX_RATE, default=0, help_text="minor units of rate_currency"
    )
    rate_currency = serializers.CharField(
        default="USDT", help_text="a wallet currency (WALLET_CURRENCIES)"
    )
    billing = serializers.ChoiceField(Kol.Billing.choices, default=Kol.Billing.PER_POST)
    payout_address = serializers.CharField(max_length=128, allow_blank=True, default="")
    notes = serializers.CharField(max_length=2000, allow_blank=True, default="")
    campaigns = serializers.ListField(
        child=serializers.CharField(max_length=33),
        max_length=MAX_CAMPAIGNS,
        default=list,
        help_text="campaign tags: 1-32 of a-z, 0-9 and _ (a leading # is dropped)",
    )


def _kol_set(view: TenantEndpoint, request: Any, kol_id: int | None) -> tuple[Kol, bool]:
    serializer = KolInputSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    assert view.tenant is not None
    return kol_set(
        tenant=view.tenant,
        actor=Actor.user(request.user),
        request=request,
        kol_id=kol_id,
        **serializer.validated_data,
    )


class KolEndpoint(TenantEndpoint):
    permission_classes = [ManageSettings]
    requires_community = True
    community_what = "KOLs belong"
    tenant: Tenant  # a community, by requires_community


class KolListView(KolEndpoint):
    """The community's KOLs (active ones, newest first, paged); POST adds one (its handle resolved
    through X) or, for an X account already listed, updates it."""

    @extend_schema(responses=KolSerializer(many=True), summary="The community's KOLs")
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(selectors.kol_list(tenant=self.tenant), request, self)
        return paginator.get_paginated_response(KolSerializer(page, many=True).data)

    @extend_schema(
        request=KolInputSerializer,
        responses={201: KolSerializer, 200: KolSerializer},
        summary="Add a KOL (201), or update the one on that X account (200)",
    )
    def post(self, request):
        kol, created = _kol_set(self, request, None)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(KolSerializer(kol).data, status=code)


class KolDetailView(KolEndpoint):
    """One KOL: replace its fields (the handle must still be its X account), or remove it
    (tracking stops; its posts stay in reports)."""

    @extend_schema(
        parameters=[KOL_ID],
        request=KolInputSerializer,
        responses=KolSerializer,
        summary="Update a KOL",
    )
    def put(self, request, kol_id: int):
        kol, _ = _kol_set(self, request, kol_id)
        return Response(KolSerializer(kol).data)

    @extend_schema(parameters=[KOL_ID], responses={204: None}, summary="Remove a KOL")
    def delete(self, request, kol_id: int):
        kol_remove(
            tenant=self.tenant, kol_id=kol_id, actor=Actor.user(request.user), request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SnapshotSerializer(serializers.Serializer):
    taken_at = serializers.DateTimeField()
    likes = serializers.IntegerField()
    reposts = serializers.IntegerField()
    replies = serializers.IntegerField()
    quotes = serializers.IntegerField()
    impressions = serializers.IntegerField(allow_null=True, help_text="null: X gave none")


class KolPostSerializer(serializers.Serializer):
    post_id = serializers.CharField(help_text="X's id of the post (a string: 64 bits)")
    text = serializers.CharField()
    campaigns = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    tracked_until = serializers.DateTimeField()
    next_snapshot_at = serializers.DateTimeField(allow_null=True, help_text="null: done")
    snapshots = SnapshotSerializer(many=True, source="snapshots.all")


class KolPostsView(KolEndpoint):
    """A KOL's tracked posts, newest first (paged), each with its engagement snapshots
    (oldest first)."""

    @extend_schema(
        parameters=[KOL_ID],
        responses=KolPostSerializer(many=True),
        summary="A KOL's posts with their snapshots",
    )
    def get(self, request, kol_id: int):
        paginator = CursorPagination()
        posts = selectors.kol_posts(tenant=self.tenant, kol_id=kol_id)
        page = paginator.paginate_queryset(posts, request, self)
        return paginator.get_paginated_response(KolPostSerializer(page, many=True).data)


# ---- the report --------------------------------------------------------------------------
def report_of(tenant: Tenant, params: Any) -> reports.KolReport:
    period = reports.period_parse(
        start=params.get("from"), end=params.get("to"), today=timezone.now().date()
    )
    campaign = params.get("campaign") or None
    if campaign is not None and not CAMPAIGN.match(campaign):
        raise ServiceError("campaign: a tag of 1-32 of a-z, 0-9 and _", code="invalid")
    return reports.kol_report(tenant=tenant, period=period, campaign=campaign)


def figures_of(figures: reports.Figures, currency: str, days: int) -> dict[str, Any]:
    return {
        "posts": figures.posts,
        "likes": figures.likes,
        "reposts": figures.reposts,
        "replies": figures.replies,
        "quotes": figures.quotes,
        "impressions": figures.impressions,
        "engagement": figures.engagement,
        "cost_minor": figures.cost_minor,
        "cost": reports.money(figures.cost_minor, currency),
        "engagement_per_cost": reports.per_cost(figures, currency),
        "growth": figures.growth,
        "growth_per_day": reports.ratio(figures.growth, days),
        "followers": figures.followers,
        "follower_growth": figures.follower_growth,
    }


def report_json(report: reports.KolReport) -> dict[str, Any]:
    days = report.period.days
    return {
        "from": report.period.start.isoformat(),
        "to": report.period.end.isoformat(),
        "days": days,
        "campaign": report.campaign,
        "kols": [
            {
                "kol_id": row.kol_id,
                "username": row.username,
                "tier": row.tier,
                "billing": row.billing,
                "currency": row.currency,
                "rate_minor": row.rate_minor,
                "is_active": row.is_active,
                **figures_of(row.figures, row.currency, days),
            }
            for row in report.kols
        ],
        "campaigns": [
            {
                "campaign": row.campaign,
                "currency": row.currency,
                "kols": row.kols,
                **figures_of(row.figures, row.currency, days),
            }
            for row in report.campaigns
        ],
    }


class FiguresSerializer(serializers.Serializer):
    posts = serializers.IntegerField(help_text="posts created in the period")
    likes = serializers.IntegerField()
    reposts = serializers.IntegerField()
    replies = serializers.IntegerField()
    quotes = serializers.IntegerField()
    impressions = serializers.IntegerField(allow_null=True, help_text="null: X gave none")
    engagement = serializers.IntegerField(help_text="likes + reposts + replies + quotes")
    cost_minor = serializers.IntegerField(help_text="minor units of the currency")
    cost = serializers.CharField(help_text='the same in units, e.g. "1.5"')
    engagement_per_cost = serializers.CharField(
        allow_null=True, help_text="engagement per unit of the currency; null: no cost"
    )
    growth = serializers.IntegerField(help_text="engagement gained between snapshots")
    growth_per_day = serializers.CharField(help_text="a decimal string")
    followers = serializers.IntegerField(
        allow_null=True, help_text="the last daily reading up to the period's end"
    )
    follower_growth = serializers.IntegerField(
        allow_null=True, help_text="followers gained over the period (negative: lost)"
    )


class KolRowSerializer(FiguresSerializer):
    kol_id = serializers.IntegerField()
    username = serializers.CharField()
    tier = serializers.CharField()
    billing = serializers.CharField()
    currency = serializers.CharField()
    rate_minor = serializers.IntegerField()
    is_active = serializers.BooleanField()


class CampaignRowSerializer(FiguresSerializer):
    campaign = serializers.CharField()
    currency = serializers.CharField()
    kols = serializers.IntegerField()


class ReportSerializer(serializers.Serializer):
    from_ = serializers.DateField(help_text="first UTC day (the field is named from)")
    to = serializers.DateField(help_text="last UTC day, included")
    days = serializers.IntegerField()
    campaign = serializers.CharField(allow_null=True)
    kols = KolRowSerializer(many=True)
    campaigns = CampaignRowSerializer(many=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")  # a Python keyword, so renamed here
        return {"from": fields.pop("from"), **fields}


class KolReportView(KolEndpoint):
    """Per KOL and per (campaign, currency) over whole UTC days: posts, latest engagement,
    impressions (null where X gave none), cost (minor units and decimal), engagement per
    unit of cost, growth and growth per day (docs/architecture.md, "KOLs")."""

    @extend_schema(
        parameters=REPORT_PARAMS,
        responses=ReportSerializer,
        summary="The KOL report",
    )
    def get(self, request):
        return Response(report_json(report_of(self.tenant, request.query_params)))


CSV_HEADER = [
    "row",
    "kol_id",
    "username",
    "campaign",
    "currency",
    "posts",
    "likes",
    "reposts",
    "replies",
    "quotes",
    "impressions",
    "engagement",
    "cost",
    "cost_minor",
    "engagement_per_cost",
    "growth",
    "growth_per_day",
    "followers",
    "follower_growth",
]


def csv_rows(report: dict[str, Any]) -> Iterator[str]:
    # No cell can start with = + - @ or a tab (what spreadsheets run as formulas): numbers,
    # handles (letters, digits, _), campaign tags (a-z, 0-9, _) and currency codes.
    writer = csv_writer()
    yield writer.writerow(CSV_HEADER)
    for row in report["kols"]:
        yield writer.writerow(
            ["kol", row["kol_id"], row["username"], report["campaign"] or ""]
            + [_cell(row[name]) for name in CSV_HEADER[4:]]
        )
    for row in report["campaigns"]:
        yield writer.writerow(
            ["campaign", "", "", row["campaign"]] + [_cell(row[name]) for name in CSV_HEADER[4:]]
        )


def _cell(value: Any) -> Any:
    return "" if value is None else value


class KolReportCsvView(CsvExport, KolEndpoint):
    """The KOL report as a CSV file: a row per KOL (``row`` = kol), then a row per
    campaign and currency (``row`` = campaign); empty cells where the JSON has null."""

    @extend_schema(
        parameters=REPORT_PARAMS,
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="a header row, then one row per KOL and campaign"
            )
        },
        summary="The KOL report as CSV",
    )
    def get(self, request):
        report = report_json(report_of(self.tenant, request.query_params))
        logger.info(
            "xfeed.kol.report_exported",
            extra={
                "tenant_id": self.tenant.pk,
                "from": report["from"],
                "to": report["to"],
                "user_id": request.user.telegram_id,
            },
        )
        return csv_response(csv_rows(report), f"kols-{report['from']}-{report['to']}.csv")
