"""The baselines of the api_me benchmark, served only under bench/settings.py.

- ``/bench/bare``: a bare (sync) Django view answered by the first middleware, so it
  skips tenant routing, every other middleware, URL resolving, DRF and auth: what Django
  itself costs per request on this server.
- ``/bench/routed``: the same view behind the full middleware stack (tenant routing
  included) and the URL resolver, to split the overhead into routing and DRF + auth.

The shortcut middleware is async-capable: a sync-only one would put one more
sync/async switch in front of every other request, and /api/v1/me would pay for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.decorators import sync_and_async_middleware

BARE_PATH = "/bench/bare"


def bare_view(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"ok": True})


@sync_and_async_middleware
def bare_shortcut(get_response: Callable) -> Callable:
    if iscoroutinefunction(get_response):
        async_response: Callable[[HttpRequest], Awaitable[HttpResponse]] = get_response

        async def middleware(request: HttpRequest) -> HttpResponse:
            if request.path == BARE_PATH:
                # In a worker thread, as Django runs any sync view under ASGI.
                return await sync_to_async(bare_view)(request)
            return await async_response(request)

        return middleware

    def sync_middleware(request: HttpRequest) -> HttpResponse:
        if request.path == BARE_PATH:
            return bare_view(request)
        return get_response(request)

    return sync_middleware
