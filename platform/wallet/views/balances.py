"""Balances per currency: a bound group's funds (``manage_funds``) and the user's own."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import HasCapability
from accounts.roles import Capability
from notifications.selectors import bound_group_binding_get
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet.views.common import CHAT_ID, BalanceSerializer, balance_rows


class GroupBalancesView(TenantEndpoint):
    """A bound group's funds per currency: available to spend and held for open holds
    (raid budgets), in minor units and as decimals."""

    permission_classes = [HasCapability.of(Capability.MANAGE_FUNDS)]
    requires_community = True
    community_what = "wallets belong"
    tenant: Tenant  # a community, by requires_community

    class OutputSerializer(serializers.Serializer):
        chat_id = serializers.IntegerField()
        title = serializers.CharField()
        balances = BalanceSerializer(many=True)

    @extend_schema(parameters=[CHAT_ID], responses=OutputSerializer, summary="A group's funds")
    def get(self, request, chat_id: int):
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        rows = balance_rows(tenant=self.tenant, owner_kind="group", owner_id=binding.chat_id)
        data = {"chat_id": binding.chat_id, "title": binding.title, "balances": rows}
        return Response(self.OutputSerializer(data).data)


class MyBalancesView(TenantEndpoint):
    """The authenticated user's balances in this community, per currency."""

    requires_community = True
    community_what = "wallets belong"
    tenant: Tenant  # a community, by requires_community

    class OutputSerializer(serializers.Serializer):
        telegram_id = serializers.IntegerField()
        balances = BalanceSerializer(many=True)

    @extend_schema(responses=OutputSerializer, summary="My balances")
    def get(self, request):
        user_id = request.user.telegram_id
        rows = balance_rows(tenant=self.tenant, owner_kind="user", owner_id=user_id)
        return Response(self.OutputSerializer({"telegram_id": user_id, "balances": rows}).data)
