"""`migrate_schemas` across many tenants for one new migration: django-tenants'
``multiprocessing`` executor (parallel) against ``standard`` (sequential), in the same run.

Uses bench/settings_benchapp.py: the bench-only tenant app ``benchapp`` has 0001 and 0002.
Tenants are created through tenant_create (the template includes 0002), then every schema
is put back at 0001 with plain SQL, which is far quicker than migrating backwards. After
each timed run every schema is checked to really be at 0002.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection

from bench.common import (
    Stopwatch,
    bot_token_for,
    header,
    pick,
    platform_ready,
    progress,
    say,
)

SETTINGS = "bench.settings_benchapp"
NEW_MIGRATION = "0002_widget_score"

# Schemas migrated so far, shared with the multiprocessing executor's forked workers.
_migrated = multiprocessing.get_context("fork").Value("i", 0)
_total = 0


def _on_schema_migrated(sender: Any, schema_name: str, **kwargs: Any) -> None:
    if not _total:  # the shared-apps migration during setup
        return
    with _migrated.get_lock():
        _migrated.value += 1
        done = _migrated.value
    progress("schemas migrated", done, _total, max(1, _total // 4))


def _schemas() -> list[str]:
    from tenancy.models import Tenant

    return list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))


def _reset_to_0001(schemas: list[str]) -> None:
    """Undo 0002 in every schema (dropping the column drops its index too)."""
    script = "".join(
        f'ALTER TABLE "{s}".benchapp_widget DROP COLUMN IF EXISTS score;'
        f'DELETE FROM "{s}".django_migrations '
        f"WHERE app = 'benchapp' AND name = '{NEW_MIGRATION}';"
        for s in schemas
    )
    with connection.cursor() as cursor:
        cursor.execute(script)


def _count_at_0002(schemas: list[str]) -> int:
    query = " UNION ALL ".join(
        f'SELECT count(*) FROM "{s}".django_migrations '
        f"WHERE app = 'benchapp' AND name = '{NEW_MIGRATION}'"
        for s in schemas
    )
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT sum(count) FROM ({query}) AS per_schema")
        return int(cursor.fetchone()[0] or 0)


def _timed_migrate(executor: str, schemas: list[str]) -> float:
    global _total
    _reset_to_0001(schemas)
    if _count_at_0002(schemas) != 0:
        raise RuntimeError("reset to 0001 failed")
    _migrated.value, _total = 0, len(schemas)
    with Stopwatch() as sw:
        call_command(
            "migrate_schemas", tenant=True, executor=executor, interactive=False, verbosity=0
        )
    connection.set_schema_to_public()
    done = _count_at_0002(schemas)
    if done != len(schemas):
        raise RuntimeError(f"{executor}: only {done} of {len(schemas)} schemas reached 0002")
    return sw.seconds


def run() -> None:
    from django_tenants.signals import schema_migrated

    from tenancy.services import tenant_create

    schema_migrated.connect(_on_schema_migrated)
    n = pick(200, 4)
    processes = getattr(settings, "TENANT_MULTIPROCESSING_MAX_PROCESSES", 2)
    chunks = getattr(settings, "TENANT_MULTIPROCESSING_CHUNKS", 2)
    header(f"migrate_schemas: one new migration on {n} tenants, parallel vs sequential")
    platform_ready()
    with Stopwatch() as sw:
        for i in range(1, n + 1):
            tenant_create(
                slug=f"mig-{i}",
                name=f"Mig {i}",
                domain=f"mig-{i}.bench",
                bot_token=bot_token_for(i),
            )
            progress("tenants created", i, n, max(1, n // 4))
    say(f"  setup: {n} tenants in {sw.seconds:.1f} s")
    schemas = _schemas()
    say("  timing standard (sequential) ...")
    sequential = _timed_migrate("standard", schemas)
    say(f"  timing multiprocessing ({processes} processes, chunks of {chunks}) ...")
    parallel = _timed_migrate("multiprocessing", schemas)
    say(f"  {'executor':<32} {'wall s':>8} {'ms/tenant':>10}")
    say(f"  {'standard (sequential)':<32} {sequential:>8.2f} {sequential / n * 1000:>10.1f}")
    say(f"  {'multiprocessing (parallel)':<32} {parallel:>8.2f} {parallel / n * 1000:>10.1f}")
    say(f"  sequential / parallel: {sequential / parallel:.2f}x")
    say("  goal: none set; figures for planning rollouts")
