"""The ASGI entry point ``make run`` and production serve (uvicorn config.asgi:application).

Django's own ASGI handler runs every sync view in a new thread per request, so each
request opened (and leaked until garbage collection) its own database connection:
persistent connections never work there. The platform's views are sync, so the ASGI
server hands requests to Django's WSGI handler on a fixed pool of threads (a2wsgi):
each thread keeps its connection (CONN_MAX_AGE) and no request pays for a connect or a
sync/async switch per middleware.
"""

import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
for _root in ("platform", "tenants"):
    if str(_ROOT / _root) not in sys.path:
        sys.path.insert(0, str(_ROOT / _root))

from a2wsgi import WSGIMiddleware  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# At most this many requests run at once per process, each thread with its own
# database connection: keep it below the server's max_connections / processes.
WEB_THREADS = int(os.environ.get("WEB_THREADS", "8"))
application = WSGIMiddleware(get_wsgi_application(), workers=WEB_THREADS)
