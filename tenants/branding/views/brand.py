"""The brand's profile, applying it to the community's bots, its colours, and the theme
the Mini App lays over Telegram's."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.permissions import IsTelegramUser, ManageBots
from branding import selectors
from branding.colors import theme_params
from branding.logo import SIZES
from branding.models import Brand
from branding.services.brand import (
    brand_apply,
    brand_colors_clear,
    brand_colors_set,
    brand_update,
)
from branding.views.base import BrandEndpoint
from config.api import StrictSerializer
from history.services import Actor


class CommandSerializer(StrictSerializer):
    command = serializers.RegexField(
        r"^[a-z0-9_]{1,32}$", help_text="without '/': 1-32 of a-z, 0-9, _"
    )
    description = serializers.CharField(min_length=1, max_length=256)


class MenuButtonSerializer(StrictSerializer):
    type = serializers.ChoiceField(choices=["commands", "default", "web_app"])
    text = serializers.CharField(required=False, max_length=64, help_text="web_app only")
    url = serializers.URLField(
        required=False, max_length=512, help_text="web_app only: an https:// address"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] != "web_app":
            return {"type": attrs["type"]}
        if not attrs.get("text") or not attrs.get("url"):
            raise serializers.ValidationError("a web_app button needs text and url")
        if not attrs["url"].startswith("https://"):
            raise serializers.ValidationError({"url": "Telegram opens https:// addresses only"})
        return {"type": "web_app", "text": attrs["text"], "url": attrs["url"]}


class LogoInfoSerializer(serializers.Serializer):
    sha256 = serializers.CharField(help_text="digest of the upload as received")
    sizes = serializers.ListField(child=serializers.IntegerField())


class BrandOutputSerializer(serializers.Serializer):
    display_name = serializers.CharField()
    description = serializers.CharField()
    short_description = serializers.CharField()
    commands = CommandSerializer(many=True)
    menu_button = serializers.SerializerMethodField()
    colors = serializers.DictField(child=serializers.CharField())
    logo = serializers.SerializerMethodField()
    profile_applied_at = serializers.DateTimeField(allow_null=True)
    updated_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(MenuButtonSerializer)
    def get_menu_button(self, brand: Brand) -> dict[str, Any]:
        return brand.menu_button or {"type": "commands"}

    @extend_schema_field(LogoInfoSerializer(allow_null=True))
    def get_logo(self, brand: Brand) -> dict[str, Any] | None:
        if not brand.logo_sha256:
            return None
        return {"sha256": brand.logo_sha256, "sizes": list(SIZES)}


class BrandView(BrandEndpoint):
    permission_classes = [ManageBots]

    class InputSerializer(StrictSerializer):
        display_name = serializers.CharField(max_length=64, allow_blank=True, required=False)
        description = serializers.CharField(max_length=512, allow_blank=True, required=False)
        short_description = serializers.CharField(max_length=120, allow_blank=True, required=False)
        commands = serializers.ListField(child=CommandSerializer(), required=False, max_length=100)
        menu_button = MenuButtonSerializer(required=False)

        def validate_commands(self, value: list[dict[str, str]]) -> list[dict[str, str]]:
            names = [c["command"] for c in value]
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise serializers.ValidationError(f"command {twice[0]!r} is listed twice")
            return value

    @extend_schema(responses=BrandOutputSerializer, summary="The brand")
    def get(self, request):
        return Response(BrandOutputSerializer(selectors.brand_get()).data)

    @extend_schema(
        request=InputSerializer,
        responses=BrandOutputSerializer,
        summary="Replace the brand's bot profile (absent fields get their defaults); "
        "POST /api/v1/brand/apply shows it on Telegram",
    )
    def put(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        brand = brand_update(
            tenant=self.tenant,
            profile=serializer.validated_data,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(BrandOutputSerializer(brand).data)


class BotProfileSerializer(serializers.Serializer):
    bot_id = serializers.IntegerField()
    shows = serializers.DictField(help_text="what Telegram answers when read back")
    mismatches = serializers.ListField(
        child=serializers.DictField(), help_text="field, expected, shown"
    )


class ApplyOutputSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    applied_at = serializers.DateTimeField(allow_null=True)
    bots = BotProfileSerializer(many=True)


class BrandApplyView(BrandEndpoint):
    permission_classes = [ManageBots]

    @extend_schema(
        request=None,
        responses={
            200: ApplyOutputSerializer,
            409: OpenApiResponse(description="a bot shows something else (profile_mismatch)"),
        },
        summary="Apply the profile to the community's bots through the Bot API and read it back",
    )
    def post(self, request):
        report = brand_apply(tenant=self.tenant, actor=Actor.user(request.user), request=request)
        body = ApplyOutputSerializer(report).data
        if report.ok:
            return Response(body)
        first = next(bot for bot in report.bots if bot.mismatches)
        wrong = first.mismatches[0]
        detail = (
            f"bot {first.bot_id} shows {wrong['field']} {wrong['shown']!r},"
            f" not {wrong['expected']!r}"
        )
        return Response(
            {"detail": detail, "code": "profile_mismatch", **body},
            status=status.HTTP_409_CONFLICT,
        )


class ColorsSerializer(StrictSerializer):
    primary = serializers.CharField(max_length=7, help_text="#RRGGBB: buttons")
    accent = serializers.CharField(max_length=7, help_text="#RRGGBB: accents and links")
    background = serializers.CharField(max_length=7, help_text="#RRGGBB")
    text = serializers.CharField(
        max_length=7, help_text="#RRGGBB: contrast ≥ 4.5 on background and on primary"
    )


class BrandColorsView(BrandEndpoint):
    permission_classes = [ManageBots]

    @extend_schema(
        request=ColorsSerializer,
        responses=BrandOutputSerializer,
        summary="Set the brand's colours (WCAG AA contrast of text on background and buttons)",
    )
    def put(self, request):
        serializer = ColorsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        brand = brand_colors_set(
            tenant=self.tenant,
            colors=serializer.validated_data,
            actor=Actor.user(request.user),
            request=request,
        )
        return Response(BrandOutputSerializer(brand).data)

    @extend_schema(request=None, responses={204: None}, summary="Drop the brand's colours")
    def delete(self, request):
        brand_colors_clear(tenant=self.tenant, actor=Actor.user(request.user), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ThemeOutputSerializer(serializers.Serializer):
    theme_params = serializers.DictField(
        child=serializers.CharField(),
        help_text="Telegram themeParams keys; the Mini App lays them over Telegram's own",
    )


class BrandThemeView(BrandEndpoint):
    permission_classes = [IsTelegramUser]

    @extend_schema(
        responses=ThemeOutputSerializer,
        summary="The brand's colours as Telegram themeParams (empty: keep Telegram's)",
    )
    def get(self, request):
        colors = selectors.brand_get().colors
        return Response({"theme_params": theme_params(colors)})
