"""The X budget API of a community: its X reads this month, their cost, and its cap."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from config.api import StrictSerializer
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from xclient.metering import budget_set
from xclient.selectors import usage_summary

MAX_CAP_MICROS = 10**15  # a billion dollars a month: past any real budget


class UsageSerializer(serializers.Serializer):
    month = serializers.DateField(help_text="the UTC calendar month (its first day)")
    post_reads = serializers.IntegerField(help_text="posts billed (once per X app and UTC day)")
    user_reads = serializers.IntegerField()
    owned_reads = serializers.IntegerField(
        help_text="posts and users a connected account read of its own data (X's owned reads)"
    )
    cost_micros = serializers.IntegerField(help_text="USD millionths at X_PRICES_MICROS")
    cap_micros = serializers.IntegerField(allow_null=True, help_text="null: no cap")
    paused = serializers.BooleanField(help_text="the cap is reached: X reads wait")
    alerted = serializers.IntegerField(help_text="the highest alert sent: 0, 80 or 100 (%)")


class XBudgetView(TenantEndpoint):
    """A community's X reads this month, their cost at X's prices, and its monthly cap
    (reads pause once it is reached; settings managers are told at 80% and 100%)."""

    permission_classes = [ManageSettings]
    requires_community = True
    community_what = "an X budget belongs"
    tenant: Tenant  # a community, by requires_community

    class InputSerializer(StrictSerializer):
        monthly_cap_micros = serializers.IntegerField(
            allow_null=True, min_value=0, max_value=MAX_CAP_MICROS, help_text="null: no cap"
        )

    @extend_schema(responses=UsageSerializer, summary="The community's X usage and cap")
    def get(self, request):
        return Response(UsageSerializer(usage_summary(tenant=self.tenant)).data)

    @extend_schema(
        request=InputSerializer,
        responses=UsageSerializer,
        summary="Set (or, with null, lift) the community's monthly cap on X reads",
    )
    def put(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        budget_set(
            tenant=self.tenant,
            monthly_cap_micros=serializer.validated_data["monthly_cap_micros"],
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(UsageSerializer(usage_summary(tenant=self.tenant)).data)
