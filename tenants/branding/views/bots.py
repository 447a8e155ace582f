"""The custom bot API (``manage_bots``): the kinds a bot can be, and a community's bots:
create (token + kind + parameters), read, update (redeploy), deploy, pause, delete, and
the rotation of a bot's token. No answer ever carries a token."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageBots
from branding.models import CustomBot
from branding.selectors import custom_bot_get, custom_bot_list
from branding.services.bots import (
    bot_token_rotate,
    custom_bot_create,
    custom_bot_delete,
    custom_bot_deploy,
    custom_bot_pause,
    custom_bot_update,
)
from config.api import CursorPagination, StrictSerializer
from config.errors import ServiceError
from history.services import Actor
from provisioner.kinds import kinds
from tenancy.api import TenantEndpoint
from tenancy.models import Tenant

BOT_ID = OpenApiParameter("bot_id", int, OpenApiParameter.PATH, description="the bot's Telegram id")
TOKEN_HELP = "the bot's token from @BotFather (checked with Telegram, stored encrypted)"


class KindSerializer(serializers.Serializer):
    name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    parameters = serializers.JSONField(help_text="a JSON Schema (draft 2020-12)")
    commands = serializers.ListField(child=serializers.DictField())
    messages = serializers.DictField(
        help_text="message key -> the variables its text may use (for overrides)"
    )
    languages = serializers.ListField(child=serializers.CharField())


class CustomBotSerializer(serializers.Serializer):
    bot_id = serializers.IntegerField(source="telegram_id", help_text="the bot's Telegram id")
    username = serializers.CharField()
    kind = serializers.CharField()
    parameters = serializers.JSONField()
    status = serializers.ChoiceField(CustomBot.Status.choices)
    status_reason = serializers.CharField(help_text="why it failed (empty otherwise)")
    placement = serializers.CharField(help_text="pooled (runtime shards) or isolated")
    revision = serializers.IntegerField(help_text="grows with every deploy")
    config_sha256 = serializers.CharField(help_text="digest of the last deployed config")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _kind_data(name: str) -> dict[str, Any]:
    kind = kinds()[name]
    return {
        "name": kind.name,
        "title": kind.title,
        "description": kind.description,
        "parameters": kind.parameters,
        "commands": [{"command": c, "description": d} for c, d in kind.commands],
        "messages": {key: list(names) for key, names in kind.variables.items()},
        "languages": kind.languages,
    }


class BotKindListView(TenantEndpoint):
    """The kinds of bot the generator makes, each with its parameters' JSON Schema, its
    default commands and its messages."""

    permission_classes = [ManageBots]

    class OutputSerializer(serializers.Serializer):
        kinds = KindSerializer(many=True)

    @extend_schema(responses=OutputSerializer, summary="Bot kinds")
    def get(self, request):
        return Response({"kinds": [_kind_data(name) for name in sorted(kinds())]})


class BotEndpoint(TenantEndpoint):
    permission_classes = [ManageBots]
    requires_community = True
    community_what = "custom bots belong"
    tenant: Tenant  # a community, by requires_community

    def bot_or_404(self, bot_id: int) -> CustomBot:
        bot = custom_bot_get(tenant=self.tenant, bot_id=bot_id)
        if bot is None:
            raise ServiceError("no such bot in this community", code="bot_not_found", status=404)
        return bot


class BotListView(BotEndpoint):
    """The community's custom bots; POST makes one from a token, a kind and its
    parameters (``pending`` until deployed). The community's own bot is adopted."""

    class InputSerializer(StrictSerializer):
        token = serializers.CharField(max_length=100, help_text=TOKEN_HELP)
        kind = serializers.CharField(max_length=20, help_text="one of GET /api/v1/bot-kinds")
        parameters = serializers.JSONField(
            default=dict, help_text="per the kind's schema; errors name the field"
        )

    @extend_schema(responses=CustomBotSerializer(many=True), summary="Custom bots")
    def get(self, request):
        paginator = CursorPagination()
        page = paginator.paginate_queryset(custom_bot_list(tenant=self.tenant), request, self)
        return paginator.get_paginated_response(CustomBotSerializer(page, many=True).data)

    @extend_schema(
        request=InputSerializer, responses={201: CustomBotSerializer}, summary="Make a bot"
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = custom_bot_create(
            tenant=self.tenant, actor=Actor.user(request.user), **serializer.validated_data
        )
        return Response(CustomBotSerializer(bot).data, status=status.HTTP_201_CREATED)


class BotDetailView(BotEndpoint):
    """One custom bot: read it, change its parameters (a running bot is redeployed), or
    delete it (its workload removed, its bot deactivated)."""

    class InputSerializer(StrictSerializer):
        parameters = serializers.JSONField(help_text="per the kind's schema")

    @extend_schema(parameters=[BOT_ID], responses=CustomBotSerializer, summary="A custom bot")
    def get(self, request, bot_id: int):
        return Response(CustomBotSerializer(self.bot_or_404(bot_id)).data)

    @extend_schema(
        parameters=[BOT_ID],
        request=InputSerializer,
        responses=CustomBotSerializer,
        summary="Change a bot's parameters",
    )
    def put(self, request, bot_id: int):
        self.bot_or_404(bot_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = custom_bot_update(
            tenant=self.tenant,
            bot_id=bot_id,
            parameters=serializer.validated_data["parameters"],
            actor=Actor.user(request.user),
        )
        return Response(CustomBotSerializer(bot).data)

    @extend_schema(parameters=[BOT_ID], responses={204: None}, summary="Delete a bot")
    def delete(self, request, bot_id: int):
        custom_bot_delete(tenant=self.tenant, bot_id=bot_id, actor=Actor.user(request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class BotDeployView(BotEndpoint):
    """Deploy the bot (again): a new revision goes to the provisioner; the answer says
    where it stands (``deploying`` is followed until running or failed)."""

    @extend_schema(
        parameters=[BOT_ID], request=None, responses=CustomBotSerializer, summary="Deploy a bot"
    )
    def post(self, request, bot_id: int):
        bot = custom_bot_deploy(tenant=self.tenant, bot_id=bot_id, actor=Actor.user(request.user))
        return Response(CustomBotSerializer(bot).data)


class BotPauseView(BotEndpoint):
    """Stop the bot, keeping its configuration (deploy starts it again)."""

    @extend_schema(
        parameters=[BOT_ID], request=None, responses=CustomBotSerializer, summary="Pause a bot"
    )
    def post(self, request, bot_id: int):
        bot = custom_bot_pause(tenant=self.tenant, bot_id=bot_id, actor=Actor.user(request.user))
        return Response(CustomBotSerializer(bot).data)


class BotTokenView(BotEndpoint):
    """Replace the bot's token (after /revoke in @BotFather): it must open the same bot."""

    class InputSerializer(StrictSerializer):
        token = serializers.CharField(max_length=100, help_text=TOKEN_HELP)

    class OutputSerializer(serializers.Serializer):
        bot_id = serializers.IntegerField(source="telegram_id")
        username = serializers.CharField()
        placement = serializers.CharField()

    @extend_schema(
        parameters=[BOT_ID],
        request=InputSerializer,
        responses=OutputSerializer,
        summary="Rotate a bot's token",
    )
    def put(self, request, bot_id: int):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bot = bot_token_rotate(
            tenant=self.tenant,
            bot_id=bot_id,
            token=serializer.validated_data["token"],
            actor=Actor.user(request.user),
        )
        return Response(self.OutputSerializer(bot).data)
