"""Notifications API: the user's own subscriptions (any authenticated user of the tenant),
a bound group's and the community's notification settings (manage_settings). Broadcasts
are in broadcast_views.py."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from config.api import StrictSerializer
from history.services import Actor
from notifications import services
from notifications.selectors import (
    bound_group_binding_get,
    notification_settings_get,
    subscription_states,
)
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)


class SubscriptionSerializer(serializers.Serializer):
    event = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    description = serializers.CharField()
    default = serializers.BooleanField(help_text="on or off when never changed")
    enabled = serializers.BooleanField()


class SubscriptionsInputSerializer(StrictSerializer):
    subscriptions = serializers.DictField(
        child=serializers.BooleanField(),
        required=False,
        help_text='event type -> on/off, e.g. {"raid.created": false}; others unchanged',
    )


class MySubscriptionsView(TenantEndpoint):
    """Which notifications the bot sends the authenticated user in private, in this
    tenant; changing them registers the user as reachable by the tenant's bot."""

    # The host's tenant, the platform's own included (None only where no middleware ran).
    tenant: Tenant

    class OutputSerializer(serializers.Serializer):
        telegram_id = serializers.IntegerField()
        subscriptions = SubscriptionSerializer(many=True)

    InputSerializer = SubscriptionsInputSerializer

    def _output(self, request, states) -> Response:
        data = {"telegram_id": request.user.telegram_id, "subscriptions": states}
        return Response(self.OutputSerializer(data).data)

    @extend_schema(responses=OutputSerializer, summary="My notification subscriptions")
    def get(self, request):
        states = subscription_states(tenant=self.tenant, chat_id=request.user.telegram_id)
        return self._output(request, states)

    @extend_schema(
        request=SubscriptionsInputSerializer,
        responses=OutputSerializer,
        summary="Switch my notifications on or off",
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.recipient_register(tenant=self.tenant, user=request.user)
        states = services.subscriptions_update(
            tenant=self.tenant,
            chat_id=request.user.telegram_id,
            changes=serializer.validated_data.get("subscriptions", {}),
            actor=Actor.user(request.user),
            request=request,
        )
        return self._output(request, states)


class GroupSubscriptionsView(TenantEndpoint):
    """Which notifications the tenant's bot posts in one of its bound groups."""

    permission_classes = [ManageSettings]
    # The host's tenant (a group is found only in a community: 404 on the platform's own).
    tenant: Tenant

    class OutputSerializer(serializers.Serializer):
        chat_id = serializers.IntegerField()
        title = serializers.CharField()
        subscriptions = SubscriptionSerializer(many=True)

    InputSerializer = SubscriptionsInputSerializer

    def _output(self, binding, states) -> Response:
        data = {"chat_id": binding.chat_id, "title": binding.title, "subscriptions": states}
        return Response(self.OutputSerializer(data).data)

    @extend_schema(
        parameters=[CHAT_ID], responses=OutputSerializer, summary="A group's notifications"
    )
    def get(self, request, chat_id: int):
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        return self._output(binding, subscription_states(tenant=binding.tenant, chat_id=chat_id))

    @extend_schema(
        request=SubscriptionsInputSerializer,
        responses=OutputSerializer,
        parameters=[CHAT_ID],
        summary="Switch a group's notifications on or off",
    )
    def patch(self, request, chat_id: int):
        binding = bound_group_binding_get(tenant=self.tenant, chat_id=chat_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        states = services.subscriptions_update(
            tenant=self.tenant,
            chat_id=chat_id,
            changes=serializer.validated_data.get("subscriptions", {}),
            actor=Actor.user(request.user),
            request=request,
        )
        return self._output(binding, states)


class NotificationSettingsView(TenantEndpoint):
    """The community's notification settings: whether its bulk sends go out as Telegram
    paid broadcasts (up to 1,000 messages a second, paid in Stars from the bot's balance)."""

    permission_classes = [ManageSettings]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class OutputSerializer(serializers.Serializer):
        allow_paid_broadcast = serializers.BooleanField(
            help_text="bulk sends are paid broadcasts unless a broadcast says paid=false"
        )
        updated_at = serializers.DateTimeField(
            allow_null=True, help_text="null while the defaults were never changed"
        )

    class InputSerializer(StrictSerializer):
        allow_paid_broadcast = serializers.BooleanField(required=False)

    @extend_schema(responses=OutputSerializer, summary="The community's notification settings")
    def get(self, request):
        found = notification_settings_get(tenant=self.tenant)
        return Response(self.OutputSerializer(found).data)

    @extend_schema(
        request=InputSerializer,
        responses=OutputSerializer,
        summary="Change the community's notification settings (only the fields given)",
    )
    def patch(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "allow_paid_broadcast" in serializer.validated_data:
            found = services.notification_settings_update(
                tenant=self.tenant,
                allow_paid_broadcast=serializer.validated_data["allow_paid_broadcast"],
                actor=Actor.user(request.user),
                request=request,
            )
        else:
            found = notification_settings_get(tenant=self.tenant)
        return Response(self.OutputSerializer(found).data)
