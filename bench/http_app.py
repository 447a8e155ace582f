"""The baselines of the api_me benchmark, served only under bench/settings.py.

- ``/bench/bare``: a bare Django view answered by the first middleware, so it skips
  tenant routing, every other middleware, URL resolving, DRF and auth: what Django
  itself costs per request on this server.
- ``/bench/routed``: the same view behind the full middleware stack (tenant routing
  included) and the URL resolver, to split the overhead into routing and DRF + auth.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

BARE_PATH = "/bench/bare"


def bare_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


def bare_shortcut(get_response: Callable[[HttpRequest], HttpResponse]):
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path == BARE_PATH:
            return bare_view(request)
        return get_response(request)

    return middleware
