"""The raids API for a community's raid managers (``manage_raids``): a group's raids and
creating one, a raid's detail with live counters and per-task counts, cancelling."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageRaids
from community.selectors import bound_group_get
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from raids import selectors
from raids.models import Formula, Raid, Task
from raids.services.raids import MAX_POINTS, MAX_POOL, MAX_TASKS, raid_cancel, raid_create
from raids.views.base import RAID_ID, RaidEndpoint
from tenancy.models import Tenant

CHAT_ID = OpenApiParameter(
    "chat_id", int, OpenApiParameter.PATH, description="Telegram chat id (negative for groups)"
)
STATUS = OpenApiParameter(
    "status", str, enum=Raid.Status.values, description="only raids in this status"
)


class TaskOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    role = serializers.CharField()
    points = serializers.IntegerField()
    params = serializers.DictField(help_text="required_words/min_length, username, chat_id")


class RaidSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    chat_id = serializers.IntegerField()
    title = serializers.CharField()
    post_id = serializers.CharField(help_text="X's id of the post (a string: 64 bits)")
    post_url = serializers.CharField()
    post_author_username = serializers.CharField(help_text="the author as X says")
    status = serializers.CharField()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    currency = serializers.CharField()
    pool_amount = serializers.IntegerField(help_text="minor units of currency")
    formula = serializers.CharField()
    participants_count = serializers.IntegerField()
    verified_count = serializers.IntegerField()


class RaidSerializer(RaidSummarySerializer):
    post_author_id = serializers.CharField()
    post_text = serializers.CharField()
    grace_seconds = serializers.IntegerField()
    min_account_age_days = serializers.IntegerField()
    min_followers = serializers.IntegerField()
    members_only = serializers.BooleanField()
    min_level = serializers.IntegerField()
    unverifiable_scores = serializers.BooleanField()
    formula_params = serializers.DictField()
    hold_id = serializers.IntegerField(allow_null=True)
    created_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    tasks = TaskOutputSerializer(many=True, source="tasks.all")


class TaskCountsSerializer(TaskOutputSerializer):
    verified = serializers.IntegerField()
    pending = serializers.IntegerField()
    unverifiable = serializers.IntegerField()
    failed = serializers.IntegerField()


class RaidDetailSerializer(RaidSerializer):
    tasks = TaskCountsSerializer(many=True)


class TaskInputSerializer(StrictSerializer):
    kind = serializers.ChoiceField(Task.Kind.choices)
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    role = serializers.ChoiceField(Task.Role.choices, default=Task.Role.MEMBER)
    required_words = serializers.ListField(
        child=serializers.CharField(max_length=50),
        max_length=10,
        required=False,
        help_text="reply, quote: words the text must contain",
    )
    min_length = serializers.IntegerField(
        min_value=0, max_value=280, required=False, help_text="reply, quote: least characters"
    )
    username = serializers.CharField(
        max_length=16, required=False, help_text="follow: the X handle (resolved through X)"
    )
    chat_id = serializers.IntegerField(
        min_value=-(2**62),
        max_value=2**62,
        required=False,
        help_text="join: a channel or group the bot administers",
    )


class RaidInputSerializer(StrictSerializer):
    post_url = serializers.CharField(max_length=200, help_text="https://x.com/<handle>/status/<id>")
    tasks = serializers.ListField(child=TaskInputSerializer(), min_length=1, max_length=MAX_TASKS)
    starts_at = serializers.DateTimeField(required=False, help_text="default: now")
    ends_at = serializers.DateTimeField(help_text="at most 30 days after starts_at")
    currency = serializers.CharField(max_length=8, help_text="a wallet currency")
    pool_amount = serializers.IntegerField(
        min_value=1, max_value=MAX_POOL, help_text="minor units, held from the group's funds"
    )
    formula = serializers.ChoiceField(Formula.choices, default=Formula.POINTS)
    formula_params = serializers.DictField(
        default=dict,
        help_text='fixed: {"per_task": n}; ranks: {"bands": [{"first", "last", "amount"}]}; '
        'threshold: {"min_points": n}; points: {}',
    )
    min_account_age_days = serializers.IntegerField(min_value=0, max_value=36_500, default=0)
    min_followers = serializers.IntegerField(min_value=0, max_value=10**9, default=0)
    members_only = serializers.BooleanField(default=True)
    min_level = serializers.IntegerField(min_value=0, max_value=1_000, default=0)
    unverifiable_scores = serializers.BooleanField(default=False)
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=86_400,
        default=30,
        help_text="work done this long after the end still counts; the results follow",
    )
    title = serializers.CharField(max_length=120, allow_blank=True, default="")
    idempotency_key = serializers.CharField(
        max_length=100, required=False, help_text="the same key again answers the same raid"
    )


PARAM_FIELDS = ("required_words", "min_length", "username", "chat_id")


def task_specs(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The API's flat tasks as raid_create takes them (kind, points, role, params)."""
    return [
        {
            "kind": task["kind"],
            "points": task["points"],
            "role": task["role"],
            "params": {name: task[name] for name in PARAM_FIELDS if name in task},
        }
        for task in tasks
    ]


def detail_data(tenant: Tenant, raid: Raid) -> dict[str, Any]:
    data = dict(RaidSerializer(raid).data)
    data["tasks"] = [
        {
            **TaskOutputSerializer(counts.task).data,
            "verified": counts.verified,
            "pending": counts.pending,
            "unverifiable": counts.unverifiable,
            "failed": counts.failed,
        }
        for counts in selectors.raid_task_counts(tenant=tenant, raid=raid)
    ]
    return data


class GroupRaidListView(RaidEndpoint):
    """A group's raids (newest first, paged; ``status`` filters); POST creates one: the
    post resolved through X, the pool held from the group's funds."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[CHAT_ID, STATUS],
        responses=RaidSerializer(many=True),
        summary="A group's raids",
    )
    def get(self, request, chat_id: int):
        bound_group_get(tenant=self.tenant, chat_id=chat_id)
        raids = selectors.raid_list(
            tenant=self.tenant, chat_id=chat_id, status=request.query_params.get("status")
        ).prefetch_related("tasks")
        paginator = CursorPagination()
        page = paginator.paginate_queryset(raids, request, self)
        return paginator.get_paginated_response(RaidSerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=RaidInputSerializer,
        responses={201: RaidSerializer, 200: RaidSerializer},
        summary="Create a raid (201), or answer the one this idempotency key created (200)",
    )
    def post(self, request, chat_id: int):
        serializer = RaidInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["tasks"] = task_specs(data["tasks"])
        data.setdefault("starts_at", timezone.now())
        raid, created = raid_create(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
            **data,
        )
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(RaidSerializer(raid).data, status=code)


class RaidDetailView(RaidEndpoint):
    """One raid: its fields, live counters, and each task's results by status."""

    permission_classes = [ManageRaids]

    @extend_schema(parameters=[RAID_ID], responses=RaidDetailSerializer, summary="A raid")
    def get(self, request, raid_id: int):
        raid = selectors.raid_get(tenant=self.tenant, raid_id=raid_id)
        return Response(detail_data(self.tenant, raid))


class RaidCancelView(RaidEndpoint):
    """Cancel a raid not settled yet: the whole pool goes back to the group."""

    permission_classes = [ManageRaids]

    @extend_schema(
        parameters=[RAID_ID], request=None, responses=RaidSerializer, summary="Cancel a raid"
    )
    def post(self, request, raid_id: int):
        raid = selectors.raid_get(tenant=self.tenant, raid_id=raid_id)
        raid = raid_cancel(
            tenant=self.tenant, raid=raid, actor=Actor.user(request.user), request=request
        )
        return Response(RaidSerializer(raid).data)
