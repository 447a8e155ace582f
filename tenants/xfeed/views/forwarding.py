"""Forwarding API: the X accounts a group forwards, with which kinds of posts."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageSettings
from community.views.groups import CHAT_ID, GroupEndpoint
from config.api import CursorPagination, StrictSerializer
from history.services import Actor
from xfeed import selectors, services

USERNAME = OpenApiParameter(
    "username", str, OpenApiParameter.PATH, description="the X handle, without '@'"
)


class ForwardingOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="account.username")
    x_user_id = serializers.CharField(
        source="account.x_user_id", help_text="X's id of the account (a string: 64 bits)"
    )
    name = serializers.CharField(source="account.name")
    include_reposts = serializers.BooleanField()
    include_replies = serializers.BooleanField()
    include_quotes = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ForwardingListView(GroupEndpoint):
    permission_classes = [ManageSettings]
    OutputSerializer = ForwardingOutputSerializer

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(help_text="the X handle ('@' optional)")
        include_reposts = serializers.BooleanField(default=False)
        include_replies = serializers.BooleanField(default=False)
        include_quotes = serializers.BooleanField(default=False)

    @extend_schema(
        parameters=[CHAT_ID],
        responses=ForwardingOutputSerializer(many=True),
        summary="The X accounts a group forwards",
    )
    def get(self, request, chat_id: int):
        qs = selectors.forwarding_list(tenant=self.tenant, chat_id=chat_id)
        paginator = CursorPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(self.OutputSerializer(page, many=True).data)

    @extend_schema(
        parameters=[CHAT_ID],
        request=InputSerializer,
        responses={200: ForwardingOutputSerializer},
        summary="Forward an X account's posts to a group, or change which kinds (the "
        "handle is looked up on X; turns the group's tweet_forwarding on)",
    )
    def post(self, request, chat_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        forwarding = services.forwarding_set(
            tenant=self.tenant,
            chat_id=chat_id,
            actor=Actor.user(request.user),
            request=request,
            **serializer.validated_data,
        )
        return Response(self.OutputSerializer(forwarding).data, status=status.HTTP_200_OK)


class ForwardingDetailView(GroupEndpoint):
    permission_classes = [ManageSettings]

    @extend_schema(
        parameters=[CHAT_ID, USERNAME],
        request=None,
        responses={204: None},
        summary="Stop forwarding an X account to a group",
    )
    def delete(self, request, chat_id: int, username: str):
        services.forwarding_remove(
            tenant=self.tenant,
            chat_id=chat_id,
            username=username,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
