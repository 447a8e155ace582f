"""Withdrawals: every user requests and follows their own; members holding manage_funds
review those waiting for approval, approve or reject them, and set the per-currency
approval threshold and daily limit."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import TelegramUser
from accounts.permissions import ManageFunds
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant
from wallet import services
from wallet.models import Withdrawal
from wallet.selectors import withdrawal_get, withdrawal_list, withdrawal_policies

WITHDRAWAL_ID = OpenApiParameter("withdrawal_id", int, OpenApiParameter.PATH)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="a unique key per withdrawal (e.g. a UUID), at most 200 characters; the same "
    "key again answers 200 with the withdrawal it started",
)


class WithdrawalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField(help_text="the Telegram id of who asked")
    currency = serializers.CharField()
    amount = serializers.IntegerField(help_text="minor units")
    destination = serializers.CharField()
    status = serializers.ChoiceField(Withdrawal.Status.choices)
    provider = serializers.CharField()
    payout_id = serializers.CharField(help_text="the provider's payout, once asked")
    failure_code = serializers.CharField()
    failure_message = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


def _page(view: TenantEndpoint, request: Any, found: Any) -> Response:
    paginator = CursorPagination()
    page = paginator.paginate_queryset(found, request, view=view)
    return paginator.get_paginated_response(WithdrawalOutputSerializer(page, many=True).data)


class WithdrawalListView(TenantEndpoint):
    """Your withdrawals (newest first), or request one: the amount is held from your
    balance at once; the payout follows (after an admin's approval above the community's
    threshold)."""

    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class InputSerializer(StrictSerializer):
        currency = serializers.CharField(max_length=10)
        amount = serializers.IntegerField(min_value=1, help_text="minor units")
        destination = serializers.CharField(max_length=256, help_text="an address of the currency")

    @extend_schema(responses=WithdrawalOutputSerializer(many=True), summary="Your withdrawals")
    def get(self, request):
        return _page(
            self, request, withdrawal_list(tenant=self.tenant, user_id=request.user.telegram_id)
        )

    @extend_schema(
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: WithdrawalOutputSerializer, 200: WithdrawalOutputSerializer},
        summary="Request a withdrawal (201; 200 with the same one for a key used before)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        requested = services.withdrawal_request(
            tenant=self.tenant,
            user=request.user,
            idempotency_key=request.headers.get("Idempotency-Key"),
            request=request,
            **serializer.validated_data,
        )
        return Response(
            WithdrawalOutputSerializer(requested.withdrawal).data,
            status=status.HTTP_201_CREATED if requested.created else status.HTTP_200_OK,
        )


class WithdrawalDetailView(TenantEndpoint):
    """One of your withdrawals."""

    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @extend_schema(parameters=[WITHDRAWAL_ID], responses=WithdrawalOutputSerializer)
    def get(self, request, withdrawal_id: int):
        found = withdrawal_get(
            tenant=self.tenant, withdrawal_id=withdrawal_id, user_id=request.user.telegram_id
        )
        return Response(WithdrawalOutputSerializer(found).data)


class WithdrawalReviewListView(TenantEndpoint):
    """The community's withdrawals waiting for approval, newest first."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @extend_schema(responses=WithdrawalOutputSerializer(many=True))
    def get(self, request):
        found = withdrawal_list(tenant=self.tenant, status=Withdrawal.Status.PENDING_APPROVAL)
        return _page(self, request, found)


class _WithdrawalDecisionView(TenantEndpoint):
    """A decision by a member holding manage_funds on a withdrawal waiting for approval:
    a subclass names the service (``decide``) and says what it does (its docstring)."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @staticmethod
    def decide(
        *, tenant: Tenant, withdrawal_id: int, actor: TelegramUser, request: Any = None
    ) -> Withdrawal:
        raise NotImplementedError

    @extend_schema(request=None, parameters=[WITHDRAWAL_ID], responses=WithdrawalOutputSerializer)
    def post(self, request, withdrawal_id: int):
        found = self.decide(
            tenant=self.tenant, withdrawal_id=withdrawal_id, actor=request.user, request=request
        )
        return Response(WithdrawalOutputSerializer(found).data)


class WithdrawalApproveView(_WithdrawalDecisionView):
    """Approve a withdrawal waiting for approval: its payout is sent."""

    decide = staticmethod(services.withdrawal_approve)


class WithdrawalRejectView(_WithdrawalDecisionView):
    """Reject a withdrawal waiting for approval: the amount goes back to its user."""

    decide = staticmethod(services.withdrawal_reject)


class WithdrawalPolicyView(TenantEndpoint):
    """The community's withdrawal rules per currency: above ``approval_above`` an admin
    approves first; ``daily_limit`` caps what one user withdraws per UTC day (minor units;
    null: none)."""

    permission_classes = [ManageFunds]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class PolicySerializer(StrictSerializer):
        currency = serializers.CharField(max_length=10)
        approval_above = serializers.IntegerField(min_value=0, allow_null=True)
        daily_limit = serializers.IntegerField(min_value=0, allow_null=True)

    @extend_schema(responses=PolicySerializer(many=True), summary="The withdrawal rules")
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(withdrawal_policies(tenant=self.tenant), request, self)
        return paginator.get_paginated_response(self.PolicySerializer(page, many=True).data)

    @extend_schema(request=PolicySerializer, responses=PolicySerializer, summary="Set a rule")
    def put(self, request):
        serializer = self.PolicySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        policy = services.withdrawal_policy_set(
            tenant=self.tenant,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        return Response(self.PolicySerializer(policy).data)
