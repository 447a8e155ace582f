"""OpenAPI generation: unique component names for nested Input/Output serializers, the
error answers every operation can give, and the ``tma`` initData authentication scheme."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class Error(serializers.Serializer):
    """Every error answer of the API (config.api, config.middleware, config.asgi_bridge)."""

    detail = serializers.CharField(help_text="What went wrong, for a person.")
    code = serializers.CharField(help_text="What went wrong, for a program.")
    # The metaclass moves declared fields off the class, so this never hides
    # Serializer.errors; the stubs see an override.
    errors = serializers.DictField(  # type: ignore[assignment]  # a field, not the property
        required=False, help_text="Validation errors by field (400 only)."
    )
    request_id = serializers.CharField(
        required=False, help_text="5xx only: quote it to the operator, who finds it in the log."
    )


# Beside each operation's own answers. "default" covers the rest: 405, 406, 408, 413, 415,
# 429, 500, 503, all in the same shape.
_ERRORS = {
    "400": "Invalid input: the body, a query parameter, a cursor or JSON the API cannot take.",
    "401": "No valid initData (`Authorization: tma ...`).",
    "403": "The user's role in this tenant does not allow it, or the tenant is suspended.",
    "404": "No such object in this tenant, or no tenant serves this host.",
    "default": "Any other error, in the same shape.",
}


class AutoSchema(SpectacularAutoSchema):
    def _get_paginator(self):
        # The API's lists are APIViews that page with config.api.CursorPagination
        # themselves (one view per operation, no generic views): a GET answering a list
        # answers a page of it, and takes its cursor and page_size.
        paginator = super()._get_paginator()
        if paginator is None and self.method == "GET":
            from config.api import CursorPagination

            return CursorPagination()
        return paginator

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            if parameter["in"] == "query" and not parameter.get("required"):
                # DRF reads a query string as form input: an optional parameter given
                # empty (?period=) is taken as not given, so the empty value is valid.
                parameter["allowEmptyValue"] = True
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, description in _ERRORS.items():
            if status not in responses:
                error = OpenApiResponse(Error, description=description)
                responses[status] = self._get_response_for_code(error, status, direction=direction)
        return responses

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
