"""Middleware of the JSON API.

The API authenticates every request with Telegram initData (``Authorization: tma``), never
with a session cookie: sessions, Django's user and flash messages serve the admin site
only. These subclasses skip their work for paths under ``/api/`` and behave exactly as
Django's own everywhere else (they stay subclasses, so the admin's checks still find
them). CSRF is left alone: DRF's views are exempt from it already.

``ApiErrorMiddleware`` gives every error under ``/api/`` the API's one shape.
"""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Any

from django.contrib.auth.middleware import AuthenticationMiddleware as _Authentication
from django.contrib.messages.middleware import MessageMiddleware as _Messages
from django.contrib.sessions.middleware import SessionMiddleware as _Sessions
from django.core.signals import got_request_exception
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
REQUEST_ID_HEADER = "X-Request-ID"

logger = logging.getLogger(__name__)


class _SkippedForApi:
    get_response: Any

    def __call__(self, request: Any) -> Any:
        # Sync or async alike: get_response returns what the next middleware returns.
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        return super().__call__(request)  # type: ignore[misc]  # a mixin: the next class has it


class SessionMiddleware(_SkippedForApi, _Sessions):
    pass


class AuthenticationMiddleware(_SkippedForApi, _Authentication):
    pass


class MessageMiddleware(_SkippedForApi, _Messages):
    pass


# Codes of the errors Django answers itself, as DRF names them in its own answers.
_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    500: "internal_error",
}
_UNHANDLED = "_api_unhandled_exc_info"


def _remember_unhandled(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django turns an uncaught exception into its 500 page inside the layer that raised
    # it: this receiver runs there, while the exception is still being handled, and keeps
    # it for ApiErrorMiddleware to log beside the request id it answers with.
    if request is not None and request.path_info.startswith(API_PREFIX):
        setattr(request, _UNHANDLED, sys.exc_info())


got_request_exception.connect(_remember_unhandled, dispatch_uid="config.api_unhandled")


class ApiErrorMiddleware:
    """Every error answer under ``/api/`` is ``{"detail", "code"}`` JSON.

    Errors the API's views answer are JSON already and pass unchanged. Django's own pages
    (unknown path, an uncaught exception, a non-DRF 405, a refused host) are replaced. A
    500 answers only a request id, in the body and the ``X-Request-ID`` header; the
    traceback goes to the ``api.unhandled_error`` log line under that id. Outside
    ``/api/`` Django's pages are kept. Before the tenant middleware, so a failing one (the
    tenant lookup) is covered too.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        return _json_error(request, response)


def _json_error(request: HttpRequest, page: HttpResponse) -> JsonResponse:
    status = page.status_code
    code = _CODES.get(status) or page.reason_phrase.lower().replace(" ", "_")
    if status == 404:
        detail = f"no API endpoint at {request.path_info}"
    elif status == 405:
        detail = f"method {request.method} is not allowed here"
    else:
        detail = page.reason_phrase.lower()
    if status < 500:
        response = JsonResponse({"detail": detail, "code": code}, status=status)
        if "Allow" in page:
            response["Allow"] = page["Allow"]
        return response
    request_id = uuid.uuid4().hex
    exc_info = request.__dict__.pop(_UNHANDLED, None)
    logger.error(
        "api.unhandled_error",
        exc_info=exc_info,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": request.path_info,
            "status": status,
        },
    )
    body = {
        "detail": f"internal error; quote request id {request_id} when reporting it",
        "code": code,
        "request_id": request_id,
    }
    return JsonResponse(body, status=status, headers={REQUEST_ID_HEADER: request_id})
