"""Stars deposits API (manage_funds): ask for a top-up invoice for a bound group, and
refund one of its Stars deposits."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageFunds
from config.api import StrictSerializer
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet import services
from wallet.models import StarsDeposit

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)
DEPOSIT_ID = OpenApiParameter("deposit_id", int, OpenApiParameter.PATH, description="deposit id")


class StarsDepositSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    amount = serializers.IntegerField(help_text="Stars")
    payer_id = serializers.IntegerField(help_text="Telegram id of who paid")
    status = serializers.ChoiceField(
        StarsDeposit.Status.choices,
        help_text="credited; refunded (by an admin); reversed (refunded outside the platform)",
    )
    shortfall = serializers.IntegerField(help_text="Stars a reversal could not take back")
    created_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


class StarsTopUpView(TenantEndpoint):
    """Ask for a Stars top-up of a bound group: the group's bot sends an XTR invoice to
    the caller's private chat (the caller must have started the bot); paying it credits
    the group."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class InputSerializer(StrictSerializer):
        amount = serializers.IntegerField(
            help_text="Stars, WALLET_STARS_TOPUP_MIN to WALLET_STARS_TOPUP_MAX"
        )

    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        chat_id = serializers.IntegerField()
        amount = serializers.IntegerField()
        currency = serializers.CharField()
        invoice_chat_id = serializers.IntegerField(help_text="where the invoice was sent")
        created_at = serializers.DateTimeField()

    @extend_schema(
        request=InputSerializer,
        parameters=[CHAT_ID],
        responses={201: OutputSerializer},
        summary="Send me a Stars invoice to top up this group",
    )
    def post(self, request, chat_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        topup = services.stars_topup_request(
            tenant=self.tenant,
            chat_id=chat_id,
            user=request.user,
            amount=serializer.validated_data["amount"],
            request=request,
        )
        data = {
            "id": topup.pk,
            "chat_id": topup.chat_id,
            "amount": topup.amount,
            "currency": "XTR",
            "invoice_chat_id": topup.invoice_chat_id,
            "created_at": topup.created_at,
        }
        return Response(self.OutputSerializer(data).data, status=status.HTTP_201_CREATED)


class StarsDepositRefundView(TenantEndpoint):
    """Refund a Stars deposit of the group: the credit is reversed and Telegram gives the
    Stars back to the payer. 409 funds_not_available when the group has held or paid
    them out."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        request=None,
        parameters=[CHAT_ID, DEPOSIT_ID],
        responses=StarsDepositSerializer,
        summary="Refund a Stars deposit",
    )
    def post(self, request, chat_id: int, deposit_id: int):
        deposit = services.stars_deposit_refund(
            tenant=self.tenant,
            chat_id=chat_id,
            deposit_id=deposit_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(StarsDepositSerializer(deposit).data)
