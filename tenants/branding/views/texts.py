"""The community's own message texts, and the preview that renders any message exactly
as the bot sends it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import ManageBots
from branding import selectors
from branding.services.texts import message_text_revert, message_text_set
from branding.texts import message_kind, message_preview
from branding.views.base import BrandEndpoint
from config.api import StrictSerializer
from history.services import Actor
from provisioner.kinds import kinds

KIND = OpenApiParameter("kind", str, OpenApiParameter.PATH, description="a bot kind")
LANGUAGE = OpenApiParameter(
    "language", str, OpenApiParameter.PATH, description="a two-letter code (en, es, ...)"
)
KEY = OpenApiParameter("key", str, OpenApiParameter.PATH, description="a message of the kind")


class TextEntrySerializer(serializers.Serializer):
    key = serializers.CharField()
    variables = serializers.ListField(child=serializers.CharField())
    default = serializers.CharField(help_text="the kind's own text (a template)")
    override = serializers.CharField(allow_null=True, help_text="the community's text")
    updated_at = serializers.DateTimeField(allow_null=True)


class TextListOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    language = serializers.CharField()
    messages = TextEntrySerializer(many=True)


class TextListView(BrandEndpoint):
    permission_classes = [ManageBots]

    class QuerySerializer(serializers.Serializer):
        kind = serializers.CharField(default="white_label", required=False)
        language = serializers.RegexField(r"^[a-z]{2}$", default="en", required=False)

        def validate_kind(self, value: str) -> str:
            if value not in kinds():
                raise serializers.ValidationError(
                    f"no bot kind {value!r}; kinds: {', '.join(sorted(kinds()))}"
                )
            return value

    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, description="a bot kind (default white_label)"),
            OpenApiParameter("language", str, description="two letters (default en)"),
        ],
        responses=TextListOutputSerializer,
        summary="Each message of a kind with its default and the community's text",
    )
    def get(self, request):
        query = {k: v for k, v in request.query_params.items() if v}
        serializer = self.QuerySerializer(data=query)
        serializer.is_valid(raise_exception=True)
        kind = message_kind(kind=serializer.validated_data["kind"])
        language = serializer.validated_data["language"]
        entries = selectors.text_list(kind=kind, language=language)
        return Response(
            TextListOutputSerializer(
                {"kind": kind.name, "language": language, "messages": entries}
            ).data
        )


class TextDetailView(BrandEndpoint):
    permission_classes = [ManageBots]

    class InputSerializer(StrictSerializer):
        text = serializers.CharField(
            trim_whitespace=False,
            help_text="plain text; {variable} placeholders of this message only",
        )

    @extend_schema(
        parameters=[KIND, LANGUAGE, KEY],
        request=InputSerializer,
        responses=TextEntrySerializer,
        summary="Use the community's own text for a message in a language",
    )
    def put(self, request, kind: str, language: str, key: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = message_text_set(
            tenant=self.tenant,
            kind=kind,
            language=language,
            key=key,
            text=serializer.validated_data["text"],
            actor=Actor.user(request.user),
            request=request,
        )
        found = message_kind(kind=kind)
        return Response(
            TextEntrySerializer(
                {
                    "key": key,
                    "variables": found.variables[key],
                    "default": found.message_source(key, language),
                    "override": entry.text,
                    "updated_at": entry.updated_at,
                }
            ).data
        )

    @extend_schema(
        parameters=[KIND, LANGUAGE, KEY],
        request=None,
        responses={204: None},
        summary="Go back to the kind's own text",
    )
    def delete(self, request, kind: str, language: str, key: str):
        message_text_revert(
            tenant=self.tenant,
            kind=kind,
            language=language,
            key=key,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreviewView(BrandEndpoint):
    permission_classes = [ManageBots]

    class InputSerializer(StrictSerializer):
        kind = serializers.CharField(required=False, help_text="default white_label")
        key = serializers.CharField(max_length=40)
        language = serializers.CharField(default="en", max_length=8)
        values = serializers.DictField(
            child=serializers.CharField(max_length=256, allow_blank=True),
            required=False,
            help_text="values of the message's variables (default: the brand's, samples)",
        )
        bot_id = serializers.IntegerField(
            required=False, help_text="a custom bot: its kind and parameters"
        )

    class OutputSerializer(serializers.Serializer):
        text = serializers.CharField()
        parse_mode = serializers.CharField()
        kind = serializers.CharField()
        key = serializers.CharField()
        language = serializers.CharField()

    @extend_schema(
        request=InputSerializer,
        responses=OutputSerializer,
        summary="Render a message exactly as the bot sends it (Telegram HTML)",
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        kind, text = message_preview(
            tenant=self.tenant,
            key=data["key"],
            language=data["language"],
            values=data.get("values", {}),
            kind_name=data.get("kind"),
            bot_id=data.get("bot_id"),
        )
        return Response(
            {
                "text": text,
                "parse_mode": "HTML",
                "kind": kind.name,
                "key": data["key"],
                "language": data["language"],
            }
        )
