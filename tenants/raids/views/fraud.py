"""The anti-fraud API of a community (``manage_raids``): the review queue of flags with
audited decisions, and the blocklist."""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageRaids
from config.api import CursorPagination, StrictSerializer
from config.errors import ServiceError
from config.numbers import whole_number
from history.services import Actor
from raids import fraud
from raids.models import Flag, Participant
from raids.services.fraud import (
    NOTE_MAX,
    REASON_MAX,
    blocked_add,
    blocked_remove,
    flag_decide,
)
from raids.views.base import RaidEndpoint

FLAG_ID = OpenApiParameter("flag_id", int, OpenApiParameter.PATH, description="the flag's id")
BLOCKED_ID = OpenApiParameter(
    "blocked_id", int, OpenApiParameter.PATH, description="the blocklist entry's id"
)


class FraudEndpoint(RaidEndpoint):
    permission_classes = [ManageRaids]


class RaidRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    post_url = serializers.CharField()
    status = serializers.CharField()


class ParticipantRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField(help_text="Telegram id")
    x_user_id = serializers.CharField(help_text="X's id (a string: 64 bits)")
    x_username = serializers.CharField()
    status = serializers.CharField(help_text="active, or excluded while a flag is open")
    points = serializers.IntegerField()


class FlagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reason = serializers.CharField(help_text=f"one of {', '.join(fraud.REASONS)}")
    detail = serializers.CharField()
    platform_wide = serializers.SerializerMethodField(
        help_text="true: read from the platform's X link history, seen by every community"
    )
    status = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True, help_text="Telegram id")
    x_user_id = serializers.CharField(allow_null=True)
    raid = RaidRefSerializer(allow_null=True)
    participant = serializers.SerializerMethodField()
    reviewed_by = serializers.IntegerField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_platform_wide(self, flag: Flag) -> bool:
        return flag.reason in fraud.PLATFORM_WIDE

    @extend_schema_field(ParticipantRefSerializer(allow_null=True))
    def get_participant(self, flag: Flag) -> dict[str, Any] | None:
        found: dict[tuple[int, int], Participant] = self.context.get("participants", {})
        participant = found.get((flag.raid_id or 0, flag.user_id or 0))
        return ParticipantRefSerializer(participant).data if participant else None


def _flag_page(flags: list[Flag]) -> list[dict[str, Any]]:
    context = {"participants": fraud.flag_participants(flags)}
    return list(FlagSerializer(flags, many=True, context=context).data)


def _flag_out(flag: Flag) -> dict[str, Any]:
    return _flag_page([flag])[0]


def _query_int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if not raw:
        return None
    typed = whole_number(raw)
    if typed is None:
        raise ServiceError(f"{name}: a raid id", code="invalid")
    return typed


class FlagListView(FraudEndpoint):
    """The review queue: the community's anti-fraud flags, newest first (paged), each with
    its reason, detail, participant and raid. A flagged participant is excluded (scores
    nothing) while the flag is open."""

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                str,
                enum=list(fraud.FLAG_STATUSES),
                description="open (the default), upheld, dismissed or all",
            ),
            OpenApiParameter("raid", int, description="only this raid's flags"),
        ],
        responses=FlagSerializer(many=True),
        summary="Anti-fraud flags (the review queue)",
    )
    def get(self, request):
        flags = fraud.flag_list(
            tenant=self.tenant,
            status=request.query_params.get("status") or "open",
            raid_id=_query_int(request.query_params, "raid"),
        )
        paginator = CursorPagination()
        page = paginator.paginate_queryset(flags, request, self)
        return paginator.get_paginated_response(_flag_page(list(page or [])))


class DecisionInputSerializer(StrictSerializer):
    note = serializers.CharField(
        max_length=NOTE_MAX, allow_blank=True, default="", help_text="why (kept in the audit log)"
    )


class _FlagDecisionView(FraudEndpoint):
    # One view per decision: each its own summary in OpenAPI.
    decision: ClassVar[str]

    def _decided(self, request, flag_id: int) -> Response:
        serializer = DecisionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        flag = flag_decide(
            tenant=self.tenant,
            flag_id=flag_id,
            status=self.decision,
            note=serializer.validated_data["note"],
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(_flag_out(flag))


class FlagDismissView(_FlagDecisionView):
    """Dismiss an open flag (an audited override): the participant scores again, unless
    another flag of theirs in that raid is still open."""

    decision = Flag.Status.DISMISSED

    @extend_schema(
        parameters=[FLAG_ID],
        request=DecisionInputSerializer,
        responses=FlagSerializer,
        summary="Dismiss a flag",
    )
    def post(self, request, flag_id: int):
        return self._decided(request, flag_id)


class FlagUpholdView(_FlagDecisionView):
    """Uphold an open flag (audited): the participant stays excluded."""

    decision = Flag.Status.UPHELD

    @extend_schema(
        parameters=[FLAG_ID],
        request=DecisionInputSerializer,
        responses=FlagSerializer,
        summary="Uphold a flag",
    )
    def post(self, request, flag_id: int):
        return self._decided(request, flag_id)


class BlockedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField(allow_null=True, help_text="Telegram id")
    x_user_id = serializers.CharField(allow_null=True, help_text="X's id (a string: 64 bits)")
    reason = serializers.CharField()
    created_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class BlockedInputSerializer(StrictSerializer):
    user_id = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, help_text="a Telegram id"
    )
    x_user_id = serializers.RegexField(
        r"^[1-9][0-9]{0,18}$", required=False, help_text="an X account's id (a string)"
    )
    reason = serializers.CharField(max_length=REASON_MAX, allow_blank=True, default="")


class BlocklistView(FraudEndpoint):
    """The community's blocklist (paged, newest first): Telegram users and X accounts who
    may not join its raids. POST adds one (a Telegram id, an X id, or both: one person)."""

    @extend_schema(responses=BlockedSerializer(many=True), summary="The blocklist")
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(fraud.blocked_list(tenant=self.tenant), request, self)
        return paginator.get_paginated_response(BlockedSerializer(page, many=True).data)

    @extend_schema(
        request=BlockedInputSerializer,
        responses={201: BlockedSerializer},
        summary="Block a Telegram user or an X account",
    )
    def post(self, request):
        serializer = BlockedInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        x_user_id = data.get("x_user_id")
        if x_user_id is not None and int(x_user_id) >= 2**63:
            raise ServiceError("x_user_id: an X account's id", code="invalid")
        blocked = blocked_add(
            tenant=self.tenant,
            user_id=data.get("user_id"),
            x_user_id=int(x_user_id) if x_user_id is not None else None,
            reason=data["reason"],
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(BlockedSerializer(blocked).data, status=status.HTTP_201_CREATED)


class BlockedDetailView(FraudEndpoint):
    """Take an entry off the blocklist (audited)."""

    @extend_schema(parameters=[BLOCKED_ID], responses={204: None}, summary="Unblock")
    def delete(self, request, blocked_id: int):
        blocked_remove(
            tenant=self.tenant,
            blocked_id=blocked_id,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
