"""What every benchmark shares: a scratch database, Django setup, figures and verdicts.

Each benchmark runs in its own process (bench/__main__.py) because Django's settings can
be configured only once and some benchmarks use bench-only settings modules.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = [ROOT / "platform", ROOT / "tenants", ROOT]


def add_source_roots() -> None:
    for root in reversed(SOURCE_ROOTS):
        if str(root) not in sys.path:
            sys.path.insert(0, str(root))


def quick() -> bool:
    """Smaller N for the smoke test (``--quick`` or BENCH_QUICK=1)."""
    return os.environ.get("BENCH_QUICK", "").strip().lower() in {"1", "true", "yes", "on"}


def pick(full: int, small: int) -> int:
    return small if quick() else full


def say(*parts: object) -> None:
    print(*parts, flush=True)


def progress(label: str, done: int, total: int, every: int) -> None:
    if done == total or done % every == 0:
        say(f"  ... {label}: {done}/{total}")


# --- The database -------------------------------------------------------------------


def server_url() -> str:
    """The server benchmarks may create scratch databases on: DATABASE_URL, else the
    embedded PostgreSQL (started here and kept while this process lives)."""
    add_source_roots()
    from config.dbserver import database_url

    return database_url()


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def _admin_execute(url: str, sql: str) -> None:
    """Run one statement on the server's maintenance database (the database named in the
    URL may not exist yet, and cannot be dropped while we are connected to it)."""
    import psycopg2

    conn = psycopg2.connect(_with_database(url, "postgres"))
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


# A database `platform_ready` already ran on (``template_prepare``): scratch databases
# are copied from it instead of migrated one by one (several benchmarks at once).
TEMPLATE_ENV = "BENCH_TEMPLATE_DATABASE"


@contextlib.contextmanager
def scratch_database(label: str) -> Iterator[str]:
    """Create a database of our own on the server of DATABASE_URL (a copy of
    ``$BENCH_TEMPLATE_DATABASE`` when set), point DATABASE_URL at it for the rest of this
    process (and its children), and drop it at the end. The name carries the pid so
    concurrent runs never share one."""
    server = server_url()
    name = f"bragabot_bench_{label}_{os.getpid()}"
    template = os.environ.get(TEMPLATE_ENV)
    _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(
        server, f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    )
    url = _with_database(server, name)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def template_prepare(name: str) -> None:
    """Create database ``name`` on the server and leave it as ``platform_ready`` makes it,
    for ``scratch_database`` to copy (PostgreSQL copies a database only while nobody is
    connected to it: this process closes its connections)."""
    server = server_url()
    _admin_execute(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin_execute(server, f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = _with_database(server, name)
    setup_django()
    platform_ready()
    from django.db import connections

    connections.close_all()


def template_drop(name: str) -> None:
    _admin_execute(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(settings_module: str = "config.settings") -> None:
    add_source_roots()
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    # The service layer logs every tenant creation; figures should not drown in it.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


def platform_ready() -> None:
    """Shared tables, the public tenant and the tenant-schema template, as `setup` leaves
    a fresh installation."""
    from django.core.management import call_command

    from tenancy.schema_template import template_build
    from tenancy.services import public_tenant_ensure

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    public_tenant_ensure(domain="localhost")
    template_build()


def baseline_dir(name: str) -> Path | None:
    """A third-party peer kept beside the project, never copied into it:
    ``<checkout>/../shared/baselines/<name>`` (the checkout sits next to ``shared/``), else
    ``$BRAGABOT_BASELINES/<name>``; None when neither exists."""
    candidates = [ROOT.parent / "shared" / "baselines" / name]
    if os.environ.get("BRAGABOT_BASELINES"):
        candidates.append(Path(os.environ["BRAGABOT_BASELINES"]) / name)
    return next((path for path in candidates if path.is_dir()), None)


def bot_token_for(n: int) -> str:
    return f"{800000000 + n}:AAH{n:05d}benchtoken-for-bragabot-bench-x"


# --- Figures -------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 is a latency someone really saw)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def goal(text: str, ok: bool) -> None:
    say(f"  goal: {text} -> {verdict(ok)}")


def header(title: str) -> None:
    say(f"== {title}" + ("  [quick]" if quick() else ""))


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.ms``."""

    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        self.ms = self.seconds * 1000.0
