"""The ASGI entry point ``make run`` and production serve (uvicorn config.asgi:application).

Django's own ASGI handler runs every sync view in a new thread per request, so each
request opened (and leaked until garbage collection) its own database connection:
persistent connections never work there. The platform's views are sync, so the ASGI
server hands requests to Django's WSGI handler on a fixed pool of threads
(config.asgi_bridge): each thread keeps its connection (CONN_MAX_AGE), and a request
costs one hand-off to a thread and one back, not a sync/async switch per middleware.
"""

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[2]
for _root in ("platform", "tenants"):
    if str(_ROOT / _root) not in sys.path:
        sys.path.insert(0, str(_ROOT / _root))

from django.core.wsgi import get_wsgi_application  # noqa: E402

from config.asgi_bridge import WSGIBridge  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def build_application(env: Mapping[str, str]) -> WSGIBridge:
    """The web application as configured by ``env`` (the process environment)."""
    # At most WEB_THREADS requests run at once per process, each thread with its own
    # database connection: keep it below the server's max_connections / processes.
    threads = int(env.get("WEB_THREADS", "8"))
    # Request bodies are read whole before a thread takes the request; the API takes JSON.
    max_body = int(env.get("WEB_MAX_BODY_BYTES", str(10 * 1024 * 1024)))
    # A client that has not sent its whole body by then gets 408 and loses the connection.
    body_timeout = float(env.get("WEB_BODY_TIMEOUT_S", "30"))
    # Requests waiting for a thread beyond this are refused (503 overloaded, Retry-After)
    # rather than queued until they time out anyway.
    max_queue = int(env.get("WEB_MAX_QUEUE", "64"))
    wsgi_app: Any = get_wsgi_application()
    if env.get("WEB_SERVE_STATIC") == "1":
        # `make run` serves the admin's CSS and JS itself, as runserver would; production
        # serves STATIC_ROOT (collectstatic) from the proxy in front.
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        wsgi_app = StaticFilesHandler(wsgi_app)
    return WSGIBridge(
        wsgi_app,
        workers=threads,
        max_body_bytes=max_body,
        body_timeout_s=body_timeout,
        max_queue=max_queue,
    )


application = build_application(os.environ)
