"""Notification subscriptions API: the user's own (any authenticated user of the
tenant), and a bound group's (manage_settings)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import HasCapability
from accounts.roles import Capability
from config.api import ApiError
from history.services import Actor
from notifications import services
from notifications.selectors import group_binding_get, subscription_states

ManageSettings = HasCapability.of(Capability.MANAGE_SETTINGS)
CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)


def _tenant(request):
    return getattr(request._request, "tenant", None)


class SubscriptionSerializer(serializers.Serializer):
    event = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    default = serializers.BooleanField(help_text="on or off when never changed")
    enabled = serializers.BooleanField()


class SubscriptionsInputSerializer(serializers.Serializer):
    subscriptions = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text='event type -> on/off, e.g. {"raid.created": false}; others unchanged',
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                f"unknown field {', '.join(unknown)}", code="unknown_field"
            )
        return attrs


class MySubscriptionsView(APIView):
    """Which notifications the bot sends the authenticated user in private, in this
    tenant; changing them registers the user as reachable by the tenant's bot."""

    class OutputSerializer(serializers.Serializer):
        telegram_id = serializers.IntegerField()
        subscriptions = SubscriptionSerializer(many=True)

    InputSerializer = SubscriptionsInputSerializer

    def _output(self, request, states) -> Response:
        data = {"telegram_id": request.user.telegram_id, "subscriptions": states}
        return Response(self.OutputSerializer(data).data)

    @extend_schema(responses=OutputSerializer, summary="My notification subscriptions")
    def get(self, request):
        states = subscription_states(tenant=_tenant(request), chat_id=request.user.telegram_id)
        return self._output(request, states)

    @extend_schema(
        request=SubscriptionsInputSerializer,
        responses=OutputSerializer,
        summary="Switch my notifications on or off",
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        tenant = _tenant(request)
        services.recipient_register(tenant=tenant, user=request.user)
        states = services.subscriptions_update(
            tenant=tenant,
            chat_id=request.user.telegram_id,
            changes=serializer.validated_data.get("subscriptions", {}),
            actor=Actor.user(request.user),
            request=request._request,
        )
        return self._output(request, states)


class GroupSubscriptionsView(APIView):
    """Which notifications the tenant's bot posts in one of its bound groups."""

    permission_classes = [ManageSettings]

    class OutputSerializer(serializers.Serializer):
        chat_id = serializers.IntegerField()
        title = serializers.CharField()
        subscriptions = SubscriptionSerializer(many=True)

    InputSerializer = SubscriptionsInputSerializer

    def _binding(self, request, chat_id: int):
        binding = group_binding_get(tenant=_tenant(request), chat_id=chat_id)
        if binding is None:
            raise ApiError(
                f"no group with chat id {chat_id} is bound to this community",
                code="group_not_found",
                status_code=404,
            )
        return binding

    def _output(self, binding, states) -> Response:
        data = {"chat_id": binding.chat_id, "title": binding.title, "subscriptions": states}
        return Response(self.OutputSerializer(data).data)

    @extend_schema(
        parameters=[CHAT_ID], responses=OutputSerializer, summary="A group's notifications"
    )
    def get(self, request, chat_id: int):
        binding = self._binding(request, chat_id)
        return self._output(binding, subscription_states(tenant=binding.tenant, chat_id=chat_id))

    @extend_schema(
        request=SubscriptionsInputSerializer,
        responses=OutputSerializer,
        parameters=[CHAT_ID],
        summary="Switch a group's notifications on or off",
    )
    def patch(self, request, chat_id: int):
        binding = self._binding(request, chat_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        states = services.subscriptions_update(
            tenant=_tenant(request),
            chat_id=chat_id,
            changes=serializer.validated_data.get("subscriptions", {}),
            actor=Actor.user(request.user),
            request=request._request,
        )
        return self._output(binding, states)
