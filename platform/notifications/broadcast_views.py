"""Broadcasts API (manage_bots): start a broadcast to the community's members or to the
members seen in one of its groups, list them, follow one's delivery, cancel it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import HasCapability
from accounts.roles import Capability
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from notifications import services
from notifications.models import Broadcast, OutboxMessage
from notifications.selectors import (
    broadcast_counts,
    broadcast_get,
    broadcast_list,
    outbox_counts,
)
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant

ManageBots = HasCapability.of(Capability.MANAGE_BOTS)
# The API's published names stay: the path parameter ``bulk_id`` and the error code
# ``bulk_send_not_found`` (clients are generated from the schema and match on codes).
BULK_ID = OpenApiParameter("bulk_id", int, OpenApiParameter.PATH, description="broadcast id")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="a unique key per broadcast (e.g. a UUID), at most 200 characters; the same "
    "key again answers 200 with the broadcast it started instead of starting another",
)
DELIVERY_STATUSES = [s.value for s in OutboxMessage.Status]
FIELDS = (
    "id",
    "status",
    "audience",
    "chat_id",
    "event",
    "text",
    "paid",
    "expanded",
    "idempotency_key",
    "created_by",
    "created_at",
    "expanded_at",
    "completed_at",
)


class DeliveryCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField(help_text="queued")
    sending = serializers.IntegerField(help_text="the request to Telegram is in flight")
    sent = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Telegram refused it, or retries ran out")
    blocked = serializers.IntegerField(help_text="the user blocked the bot or never started it")
    cancelled = serializers.IntegerField()
    uncertain = serializers.IntegerField(
        help_text="the sender stopped mid-request: maybe delivered, never resent"
    )


class BroadcastOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(
        Broadcast.Status.choices,
        help_text="expanding (creating a message per recipient), sending, completed, cancelled",
    )
    audience = serializers.ChoiceField(Broadcast.Audience.choices)
    chat_id = serializers.IntegerField(allow_null=True, help_text="the group, for audience group")
    event = serializers.CharField()
    text = serializers.CharField()
    paid = serializers.BooleanField(help_text="sent as Telegram paid broadcasts")
    expanded = serializers.IntegerField(
        help_text="messages created so far: recipients who had not switched the event off"
    )
    counts = DeliveryCountsSerializer(help_text="messages per delivery status, live")
    idempotency_key = serializers.CharField()
    created_by = serializers.CharField(help_text='who started it, e.g. "user:123456"')
    created_at = serializers.DateTimeField()
    expanded_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(
        allow_null=True, help_text="when it completed or was cancelled"
    )


def _output(broadcast: Broadcast, live: dict[str, int] | None) -> dict[str, Any]:
    # Live counts while its messages exist; once they are purged, those stored when it
    # completed.
    counts = live or broadcast.counts or {}
    data = {field: getattr(broadcast, field) for field in FIELDS}
    data["counts"] = {s: counts.get(s, 0) for s in DELIVERY_STATUSES}
    return BroadcastOutputSerializer(data).data


class BroadcastListView(TenantEndpoint):
    permission_classes = [ManageBots]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    class InputSerializer(StrictSerializer):
        text = serializers.CharField(
            trim_whitespace=False,
            allow_blank=True,
            help_text=f"the message, 1-{services.MAX_TEXT} characters (Telegram's limit)",
        )
        audience = serializers.ChoiceField(
            Broadcast.Audience.choices,
            default=Broadcast.Audience.TENANT,
            help_text="tenant: every member the bot can reach in private; group: those of "
            "them seen writing in the group chat_id",
        )
        chat_id = serializers.IntegerField(
            required=False, allow_null=True, help_text="a bound group, for audience group"
        )
        event = serializers.CharField(
            default="announcement",
            help_text="the notification type members can switch off (a private-chat type)",
        )
        paid = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="as Telegram paid broadcasts; default: the community's "
            "allow_paid_broadcast, which true also needs",
        )

    @extend_schema(
        responses=BroadcastOutputSerializer(many=True),
        summary="The community's broadcasts, newest first",
    )
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(broadcast_list(tenant=self.tenant), request, view=self)
        counts = broadcast_counts(tenant=self.tenant, broadcast_ids=[b.pk for b in page])
        return paginator.get_paginated_response([_output(b, counts.get(b.pk)) for b in page])

    @extend_schema(
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={201: BroadcastOutputSerializer, 200: BroadcastOutputSerializer},
        summary="Start a broadcast (201; 200 with the same one for a key used before)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        started = services.broadcast_start(
            tenant=self.tenant,
            idempotency_key=request.headers.get("Idempotency-Key"),
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        return Response(
            _output(started.broadcast, None),
            status=status.HTTP_201_CREATED if started.created else status.HTTP_200_OK,
        )


class BroadcastDetailView(TenantEndpoint):
    permission_classes = [ManageBots]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        parameters=[BULK_ID],
        responses=BroadcastOutputSerializer,
        summary="A broadcast with its live delivery counts",
    )
    def get(self, request, bulk_id: int):
        broadcast = broadcast_get(tenant=self.tenant, broadcast_id=bulk_id)
        return Response(_output(broadcast, outbox_counts(tenant=self.tenant, broadcast=broadcast)))


class BroadcastCancelView(TenantEndpoint):
    permission_classes = [ManageBots]
    requires_community = True
    tenant: Tenant  # a community, by requires_community

    @extend_schema(
        request=None,
        parameters=[BULK_ID],
        responses=BroadcastOutputSerializer,
        summary="Cancel a broadcast: nothing more is queued, unsent messages are cancelled",
    )
    def post(self, request, bulk_id: int):
        broadcast = services.broadcast_cancel(
            tenant=self.tenant,
            broadcast_id=bulk_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(_output(broadcast, outbox_counts(tenant=self.tenant, broadcast=broadcast)))
