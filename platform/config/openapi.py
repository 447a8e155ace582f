"""OpenAPI generation: unique component names for nested Input/Output serializers, and
the ``tma`` initData authentication scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction) -> str:
        # MeView.OutputSerializer → "MeOutput", so every view's nested serializers
        # get their own component instead of colliding on "Output".
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 1)
            outer = outer.replace(".", "")
            if outer.endswith("View"):
                outer = outer[:-4]
            return outer + inner
        return super().get_serializer_name(serializer, direction)


class TelegramInitDataScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TelegramInitDataAuthentication"
    name = "telegramInitData"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`tma <initData>`: the raw initData query string the Telegram "
            "Mini App received (window.Telegram.WebApp.initData).",
        }
