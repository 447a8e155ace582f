"""API conventions shared by every app: error shape, pagination, the error type."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, negotiation, pagination, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ServiceError


class ApiError(exceptions.APIException):
    """Raise from a view (or let a service error be translated) to answer
    ``{"detail": ..., "code": ...}`` with the given status."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail: str, *, code: str, status_code: int | None = None) -> None:
        super().__init__(detail=detail, code=code)
        if status_code is not None:
            self.status_code = status_code


def _flatten(detail: Any) -> tuple[str, str, Any]:
    """First human-readable message and code of a DRF error detail, plus field errors."""
    if isinstance(detail, list) and detail:
        return _flatten(detail[0])[0], _flatten(detail[0])[1], None
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        message, code, _ = _flatten(value)
        prefix = "" if field == "non_field_errors" else f"{field}: "
        return prefix + message, code, detail
    return str(detail), getattr(detail, "code", "error"), None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, code, fields = _flatten(exc.detail)
        body: dict[str, Any] = {"detail": message, "code": code or "invalid"}
        if fields:
            body["errors"] = fields
        response.data = body
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        code = detail.code if hasattr(detail, "code") else exc.default_code
        response.data = {"detail": str(detail), "code": code}
    return response


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


_output_serializers: dict[type[serializers.Serializer], serializers.Serializer] = {}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not silently keep a default): 400
    ``unknown_field``. Nested strict serializers refuse theirs too."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                error = ErrorDetail(f"unknown field {', '.join(unknown)}", code="unknown_field")
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [error]})
        return super().to_internal_value(data)


def represent(serializer_class: type[serializers.Serializer], instance: Any) -> dict[str, Any]:
    """``serializer_class(instance).data`` without DRF's per-instance deep copy of every
    field: an output serializer holds no per-call state, so one bound instance per class
    is reused (hot read endpoints such as /api/v1/me)."""
    serializer = _output_serializers.get(serializer_class)
    if serializer is None:
        serializer = _output_serializers.setdefault(serializer_class, serializer_class())
        serializer.fields  # noqa: B018  build and bind the fields once
    return serializer.to_representation(instance)


# Accept headers every JSON renderer satisfies as they are.
_ACCEPTS_JSON = frozenset({"", "*/*", "application/json", "application/json, */*"})


class JsonFirstNegotiation(negotiation.DefaultContentNegotiation):
    """The API answers JSON. A request that takes JSON or anything (no Accept header,
    ``*/*``, ``application/json``) of a view with one renderer gets it without parsing
    the Accept header; every other request is negotiated as DRF does (406 included)."""

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        accept = request.META.get("HTTP_ACCEPT", "")
        if (
            len(renderers) == 1
            and format_suffix is None
            and accept in _ACCEPTS_JSON
            and renderers[0].media_type == "application/json"
            and self.settings.URL_FORMAT_OVERRIDE not in request.GET
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
