"""What the api_me benchmark serves beside the product, under bench/settings.py only.

``bench_front`` is the first middleware of the product's stack. It answers:
- ``/bench/bare``: a bare Django view, before tenant routing, every other middleware, URL
  resolving, DRF and auth: what Django itself costs per request on this server;
- ``/peer/...``: the conventional peer of /api/v1/me (bench/peer_me.py), through the
  peer's own middleware stack and Django's handler, not the product's middleware.

Everything else, ``/bench/routed`` (the bare view behind the full stack and the URL
resolver) and ``/api/v1/me`` included, goes on through the product's stack: ours and
the peer both pass this front, so neither pays for it alone. It is sync only: the
server runs Django's WSGI handler (config.asgi's bridge).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from bench.peer_me import PEER_PREFIX, PeerHandler

BARE_PATH = "/bench/bare"


def bare_view(request: HttpRequest) -> HttpResponse:
    # The pid tells the benchmark which uvicorn worker answered.
    return JsonResponse({"ok": True, "pid": os.getpid()})


def bench_front(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    peer = PeerHandler()

    def middleware(request: HttpRequest) -> HttpResponse:
        path = request.path
        if path == BARE_PATH:
            return bare_view(request)
        if path.startswith(PEER_PREFIX):
            return peer.get_response(request)
        return get_response(request)

    return middleware
