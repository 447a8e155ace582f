"""Deposits through payment providers: the providers' signed webhook, and (manage_funds)
where a group's deposits are to be paid."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from accounts.permissions import ManageFunds
from config.api import StrictSerializer
from notifications.selectors import bound_group_binding_get
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet import services
from wallet.selectors import deposit_instructions

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)
PROVIDER = OpenApiParameter(
    "provider", str, OpenApiParameter.PATH, description="the provider's name in WALLET_PROVIDERS"
)


class PayToSerializer(serializers.Serializer):
    currency = serializers.CharField()
    pay_to = serializers.CharField()
    memo = serializers.CharField(help_text="send it with the payment")


class ProviderWebhookView(TenantEndpoint):
    """A payment provider's event (a deposit arrived, a payout settled), signed with that
    provider's webhook secret over the raw body. Not for people: the signature is the only
    credential. A refused delivery (401 bad or missing signature, 400 stale timestamp or
    malformed event, 404 unknown provider, group or withdrawal) credits nothing and is
    recorded; a duplicate of a credited event answers 200 and credits nothing more."""

    # The provider authenticates by its signature, not as a Telegram user.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(["credited", "duplicate", "payout", "ignored"])
        transfer_id = serializers.IntegerField(required=False)
        withdrawal = serializers.CharField(required=False, help_text="the withdrawal's status")

    @extend_schema(
        request=None,
        parameters=[
            PROVIDER,
            OpenApiParameter(
                "X-Provider-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="t=<unix time>,v1=<hex HMAC-SHA256 of f'{t}.{raw body}'>",
            ),
        ],
        responses=OutputSerializer,
        summary="A payment provider's signed webhook",
    )
    def post(self, request, provider: str):
        receipt = services.provider_event_receive(
            provider=provider,
            headers={name.lower(): value for name, value in request.headers.items()},
            body=request.body,
            remote_addr=request.META.get("REMOTE_ADDR", ""),
        )
        return Response(receipt.body, status=receipt.status)


class DepositInstructionsView(TenantEndpoint):
    """Where to pay so a deposit reaches this group: the provider, the address and the
    reference to send with the money (it names this community and group, and only the
    platform can make one)."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class InputSerializer(StrictSerializer):
        currency = serializers.CharField(
            max_length=10, required=False, help_text="only this currency (default: every one)"
        )

    class OutputSerializer(serializers.Serializer):
        chat_id = serializers.IntegerField()
        title = serializers.CharField()
        provider = serializers.CharField()
        reference = serializers.CharField(
            help_text="names this community and group; only the platform can make one"
        )
        currencies = PayToSerializer(many=True)

    @extend_schema(
        parameters=[CHAT_ID, InputSerializer],
        responses=OutputSerializer,
        summary="Where to pay a deposit to this group",
    )
    def get(self, request, chat_id: int):
        query = self.InputSerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        found = deposit_instructions(
            tenant=self.tenant,
            chat_id=chat_id,
            title=binding.title,
            currency=query.validated_data.get("currency"),
        )
        return Response(self.OutputSerializer(found).data)
