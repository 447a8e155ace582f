"""The giveaway API of a group: admins (``manage_raids``) create, cancel and draw (once
the draw time has come); any user of the community lists them, enters (the conditions
checked with Telegram and X), and reads the published draw (everything needed to re-run
it: ``manage.py giveaway verify --file``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from accounts.permissions import IsTelegramUser, ManageRaids
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from config.errors import ServiceError
from history.services import Actor
from raids.models import Giveaway
from raids.selectors_giveaways import giveaway_get, giveaway_list
from raids.services.giveaways import (
    MAX_TITLE,
    MAX_WINNERS,
    giveaway_cancel,
    giveaway_create,
    giveaway_draw,
    giveaway_enter,
    giveaway_result_of,
)

MAX_AMOUNT = 10**15  # minor units
GIVEAWAY_ID = OpenApiParameter(
    "giveaway_id", int, OpenApiParameter.PATH, description="the giveaway's id"
)


class GiveawaySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    title = serializers.CharField()
    currency = serializers.CharField()
    pool_amount = serializers.IntegerField(help_text="minor units")
    winners = serializers.IntegerField()
    members_only = serializers.BooleanField()
    min_raid_points = serializers.IntegerField()
    x_linked = serializers.BooleanField()
    status = serializers.CharField()
    commitment = serializers.CharField(help_text="hex SHA-256 of the secret revealed at the draw")
    draw_at = serializers.DateTimeField()
    drawn_at = serializers.DateTimeField(allow_null=True)
    entrants = serializers.IntegerField(source="entries.count")
    result = serializers.SerializerMethodField(
        help_text="the published draw (empty until drawn): secret, entrants, winners"
    )
    created_at = serializers.DateTimeField()

    def get_result(self, giveaway: Giveaway) -> dict[str, Any]:
        return giveaway_result_of(giveaway)


class GiveawayInputSerializer(StrictSerializer):
    title = serializers.CharField(max_length=MAX_TITLE)
    currency = serializers.CharField(max_length=8, default="USDT")
    pool_amount = serializers.IntegerField(min_value=1, max_value=MAX_AMOUNT)
    winners = serializers.IntegerField(min_value=1, max_value=MAX_WINNERS)
    draw_at = serializers.DateTimeField()
    members_only = serializers.BooleanField(default=True)
    min_raid_points = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    x_linked = serializers.BooleanField(default=False)


class GiveawayEndpoint(GroupEndpoint):
    def _giveaway(self, chat_id: int, giveaway_id: int) -> Giveaway:
        return giveaway_get(tenant=self.tenant, chat_id=chat_id, giveaway_id=giveaway_id)


class GiveawayListView(GiveawayEndpoint):
    """A group's giveaways, newest first (any user of the community); POST opens one
    (``manage_raids``): its pool is escrowed and its commitment announced."""

    def get_permissions(self) -> list[BasePermission]:
        permission = ManageRaids if self.request.method == "POST" else IsTelegramUser
        return [permission()]

    @extend_schema(
        parameters=[
            CHAT_ID,
            OpenApiParameter("status", str, enum=list(Giveaway.Status.values)),
        ],
        responses=GiveawaySerializer(many=True),
        summary="A group's giveaways",
    )
    def get(self, request, chat_id: int):
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in Giveaway.Status.values:
            raise ServiceError(
                f"status: one of {', '.join(Giveaway.Status.values)}", code="invalid"
            )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(
            giveaway_list(tenant=self.tenant, chat_id=chat_id, status=wanted), request, self
        )
        return paginator.get_paginated_response(GiveawaySerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=GiveawayInputSerializer,
        responses={201: GiveawaySerializer},
        summary="Open a giveaway (its pool escrowed)",
    )
    def post(self, request, chat_id: int):
        data = GiveawayInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        giveaway = giveaway_create(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            **data.validated_data,
        )
        return Response(GiveawaySerializer(giveaway).data, status=status.HTTP_201_CREATED)


class GiveawayDetailView(GiveawayEndpoint):
    """One giveaway with its published draw once drawn."""

    permission_classes = [IsTelegramUser]

    @extend_schema(
        parameters=[CHAT_ID, GIVEAWAY_ID], responses=GiveawaySerializer, summary="A giveaway"
    )
    def get(self, request, chat_id: int, giveaway_id: int):
        return Response(GiveawaySerializer(self._giveaway(chat_id, giveaway_id)).data)


class EntrySerializer(serializers.Serializer):
    giveaway_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    entered_at = serializers.DateTimeField()


class GiveawayEnterView(GiveawayEndpoint):
    """Enter a giveaway as the calling user: membership (Telegram's getChatMember), raid
    points and a linked X account are checked as Telegram and X confirm them; each
    refusal has its own code (403 not_a_member, not_enough_raid_points, x_not_linked;
    409 already_entered, giveaway_closed)."""

    permission_classes = [IsTelegramUser]

    @extend_schema(
        parameters=[CHAT_ID, GIVEAWAY_ID],
        request=None,
        responses={201: EntrySerializer},
        summary="Enter a giveaway",
    )
    def post(self, request, chat_id: int, giveaway_id: int):
        entry = giveaway_enter(
            tenant=self.tenant, giveaway=self._giveaway(chat_id, giveaway_id), user=request.user
        )
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class GiveawayCancelView(GiveawayEndpoint):
    """Cancel an open giveaway: the pool goes back to the group whole."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID, GIVEAWAY_ID],
        request=None,
        responses=GiveawaySerializer,
        summary="Cancel a giveaway",
    )
    def post(self, request, chat_id: int, giveaway_id: int):
        giveaway = giveaway_cancel(
            tenant=self.tenant,
            giveaway=self._giveaway(chat_id, giveaway_id),
            actor=Actor.user(request.user),
        )
        return Response(GiveawaySerializer(giveaway).data)


class GiveawayDrawView(GiveawayEndpoint):
    """Draw now rather than wait for the job: only once the draw time has come (409
    draw_not_due before); drawing a drawn giveaway returns it unchanged."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID, GIVEAWAY_ID],
        request=None,
        responses=GiveawaySerializer,
        summary="Draw a giveaway now",
    )
    def post(self, request, chat_id: int, giveaway_id: int):
        outcome = giveaway_draw(
            tenant=self.tenant,
            giveaway=self._giveaway(chat_id, giveaway_id),
            actor=Actor.user(request.user),
        )
        return Response(GiveawaySerializer(outcome.giveaway).data)
