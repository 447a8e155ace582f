"""Validation on demand (``manage_raids``): a pass over one raid now, throttled per raid."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response

from accounts.permissions import ManageRaids
from history.services import Actor
from raids.validation.passes import ValidationThrottled, raid_validate_on_demand
from raids.views.base import RAID_ID, RaidEndpoint


class ValidationPassSerializer(serializers.Serializer):
    raid_id = serializers.IntegerField()
    final = serializers.BooleanField()
    calls = serializers.IntegerField(help_text="X and Bot API calls the pass made")
    calls_by_endpoint = serializers.DictField(child=serializers.IntegerField())
    verified = serializers.IntegerField(help_text="results this pass verified")
    unverifiable = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="results of the raid still pending after it")
    refused = serializers.ListField(
        child=serializers.CharField(),
        help_text='"<task kind>:<code>" for each task X or Telegram refused (left pending)',
    )


class RaidValidateView(RaidEndpoint):
    """Validate a raid now (not the final pass: that runs after the grace window). At
    most one call per raid a minute: a second one gets 429 with ``retry_after``."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[RAID_ID],
        request=None,
        responses={
            200: ValidationPassSerializer,
            429: OpenApiResponse(
                inline_serializer(
                    "ValidationThrottled",
                    {
                        "detail": serializers.CharField(),
                        "code": serializers.CharField(),
                        "retry_after": serializers.IntegerField(),
                    },
                ),
                description="validated moments ago: wait retry_after seconds",
            ),
        },
        summary="Validate a raid now",
    )
    def post(self, request, raid_id: int):
        try:
            done = raid_validate_on_demand(
                tenant=self.tenant, raid_id=raid_id, actor=Actor.user(request.user), request=request
            )
        except ValidationThrottled as exc:
            body = {"detail": exc.message, "code": exc.code, "retry_after": exc.retry_after}
            return Response(body, status=exc.status, headers={"Retry-After": str(exc.retry_after)})
        return Response(ValidationPassSerializer(done.as_dict()).data)
