"""API conventions shared by every app: error shape, pagination, the JSON parser, the
error type."""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Field, ForeignObjectRel, Model
from django.http import Http404
from rest_framework import exceptions, negotiation, pagination, parsers, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ServiceError
from config.numbers import whole_number


class ApiError(exceptions.APIException):
    """Raise from a view (or let a service error be translated) to answer
    ``{"detail": ..., "code": ...}`` with the given status."""

    status_code: int = status.HTTP_400_BAD_REQUEST
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
        error: dict[str, Any] = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            error["errors"] = exc.errors
        return Response(error, status=exc.status)
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
        response.data = {"detail": str(detail), "code": getattr(detail, "code", exc.default_code)}
    return response


def _invalid_cursor() -> ApiError:
    return ApiError("the cursor is not one this list gave out", code="invalid_cursor")


def _ordering_field(model: type[Model] | None, name: str) -> Field | None:
    field: Field | ForeignObjectRel | None = None
    for part in name.split("__"):
        if model is None:
            return None
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        model = field.related_model
    # A reverse relation is no column: there is no value to check a position against.
    return field if isinstance(field, Field) else None


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, refusing a cursor it did not give out with 400
    ``invalid_cursor``: one that does not decode (DRF answers 404), and one whose position
    is no value of the ordering field (DRF filtered by it, and the query failed: 500)."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request: Any) -> int:
        # DRF ignored a page_size it could not use (false, 0, 5000) and answered the
        # default: the client never learnt that its page size was not applied.
        raw = request.query_params.get(self.page_size_query_param)
        if not raw:  # absent, or empty as an optional form value: the default
            return self.page_size
        size = whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise ApiError(
                f"page_size must be a whole number from 1 to {self.max_page_size}",
                code="invalid_page_size",
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters

    def decode_cursor(self, request: Any) -> Any:
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise _invalid_cursor() from None
        if cursor is None or cursor.position is None:
            return cursor
        # Decoded from the query string, the position is a str (DRF's stubs say int).
        position = str(cursor.position)
        if "\x00" in position:  # PostgreSQL stores no NUL in any text
            raise _invalid_cursor()
        field = _ordering_field(self._model, self.ordering[0].lstrip("-"))
        if field is not None:
            try:
                field.get_prep_value(field.to_python(position))
            except (ValidationError, ValueError, TypeError):
                raise _invalid_cursor() from None
        return cursor


# Deeper JSON is refused before anything walks it recursively (validation, rendering,
# the database driver); no request body of the API comes near it.
MAX_JSON_DEPTH = 32
# What PostgreSQL cannot store in text or jsonb: NUL, and halves of surrogate pairs
# (JSON's "\ud800" escape decodes to one, which no UTF-8 encoder accepts).
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")


def _json_refusal(data: Any) -> str | None:
    """Why a parsed JSON body cannot be accepted, or None. Walks with its own stack."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            if isinstance(value, dict):
                pending.extend((key, depth) for key in value)
                value = value.values()
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if _UNSTORABLE.search(value):
                return "a JSON string holds a NUL character or an unpaired surrogate"
        elif isinstance(value, float) and not math.isfinite(value):
            return "a JSON number is out of range"
    return None


class JsonParser(parsers.JSONParser):
    """DRF's JSON parser, answering 400 ``invalid_json`` for every body it cannot take:
    malformed JSON, JSON nested so deep that the decoder's recursion fails (100,000 ``[``
    raised RecursionError: a 500), and values that would fail later, deeper than any
    view checks (see ``_json_refusal``)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as exc:
            raise exceptions.ParseError(str(exc.detail), code="invalid_json") from None
        except RecursionError:
            too_deep = f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            raise exceptions.ParseError(too_deep, code="invalid_json") from None
        refusal = _json_refusal(data)
        if refusal is not None:
            raise exceptions.ParseError(refusal, code="invalid_json")
        return data


_output_serializers: dict[type[serializers.Serializer], serializers.Serializer] = {}


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know (a typo must not silently keep a default): 400
    ``unknown_field``; and a number or a boolean where the schema says string (DRF's
    CharField would turn ``0.0`` into ``"0.0"``): 400 ``invalid``. Nested strict
    serializers refuse theirs too."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                error = ErrorDetail(f"unknown field {', '.join(unknown)}", code="unknown_field")
                raise serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [error]})
            not_text = {
                name: [ErrorDetail("Not a valid string.", code="invalid")]
                for name, field in self.fields.items()
                if isinstance(field, serializers.CharField)
                and data.get(name) is not None
                and not isinstance(data[name], str)
            }
            if not_text:
                raise serializers.ValidationError(not_text)
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
