"""``/healthz`` and ``/readyz``: what a load balancer or the kubelet probes.

Answered first in MIDDLEWARE, before anything reads the Host header: a probe comes to
the pod's IP (no tenant's domain, not in ALLOWED_HOSTS) over plain HTTP (no TLS redirect),
and must not depend on the tenant lookup. ``/healthz`` says the process serves requests
(liveness: nothing else is checked, so a database outage does not restart every pod);
``/readyz`` also runs ``SELECT 1`` (readiness: a pod that cannot reach the database gets
no traffic).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse

LIVENESS_PATH = "/healthz"
READINESS_PATH = "/readyz"

logger = logging.getLogger(__name__)


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        logger.warning("health.database_unreachable", exc_info=True)
        # A broken connection is not reused by the next probe or request.
        connection.close_if_unusable_or_obsolete()
        return False
    return True


def readiness() -> JsonResponse:
    if not database_reachable():
        return JsonResponse(
            {"detail": "the database is unreachable", "code": "database_unavailable"},
            status=503,
        )
    return JsonResponse({"status": "ready"})


class HealthMiddleware:
    """Answers the two probe paths (GET or HEAD) and passes everything else on."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path not in (LIVENESS_PATH, READINESS_PATH):
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = JsonResponse(
                {
                    "detail": f"method {request.method} is not allowed here",
                    "code": "method_not_allowed",
                },
                status=405,
            )
            response["Allow"] = "GET, HEAD"
            return response
        if path == LIVENESS_PATH:
            return JsonResponse({"status": "alive"})
        return readiness()
