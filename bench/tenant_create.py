"""Tenant creation: tenancy.services.tenant_create (schema replayed from the captured
template) beside django-tenants' two ways of building a tenant schema, in the same run:

- clone:   ``CloneSchema().clone_schema(base, new, "DATA", set_connection=False)`` from a
           migrated base schema (the TENANT_BASE_SCHEMA path; django-tenants follows it
           with a fake ``migrate_schemas``, which is *not* timed here, so the clone figure
           is a lower bound for that path);
- migrate: ``CREATE SCHEMA`` + ``migrate_schemas --tenant --schema=<new>``.

The slow paths run every ``STRIDE``-th iteration, interleaved with tenant_create, so all
three see the same machine noise and the same growing catalog.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from bench.common import (
    Stopwatch,
    bot_token_for,
    goal,
    header,
    median,
    percentile,
    pick,
    platform_ready,
    progress,
    say,
)

GOAL_MS = 150.0
GOAL_VS_CLONE = 4.0
GOAL_VS_MIGRATE = 8.0
BASE_SCHEMA = "bench_clone_base"


def _table_count(schema: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", [schema])
        return cursor.fetchone()[0]


def _create_schema(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{name}"')


def _migrate(schema: str) -> None:
    call_command("migrate_schemas", schema_name=schema, tenant=True, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def run() -> None:
    from django_tenants.clone import CloneSchema

    from tenancy.schema_template import schema_create_from_template
    from tenancy.services import tenant_create

    n = pick(200, 6)
    slow_n = pick(20, 1)
    stride = n // slow_n
    header("tenant_create: template replay vs django-tenants clone vs migrate")
    say(f"  tenant apps: {', '.join(settings.TENANT_APPS)}")
    platform_ready()
    with Stopwatch() as base_sw:
        _create_schema(BASE_SCHEMA)
        _migrate(BASE_SCHEMA)
    say(f"  setup: migrated clone base schema in {base_sw.ms:.1f} ms")

    # One of each first: the clone function gets installed, caches warm.
    tenant_create(
        slug="warm-up", name="Warm up", domain="warm-up.bench", bot_token=bot_token_for(0)
    )
    CloneSchema().clone_schema(BASE_SCHEMA, "bench_clone_warm", "DATA", set_connection=False)

    create_ms: list[float] = []
    replay_ms: list[float] = []
    clone_ms: list[float] = []
    migrate_ms: list[float] = []
    for i in range(1, n + 1):
        with Stopwatch() as sw:
            tenant = tenant_create(
                slug=f"bench-{i}",
                name=f"Bench {i}",
                domain=f"bench-{i}.bench",
                bot_token=bot_token_for(i),
            )
        create_ms.append(sw.ms)
        if i % stride == 0 and len(clone_ms) < slow_n:
            # The replay step alone, to show what the rest of tenant_create costs.
            with Stopwatch() as sw, transaction.atomic():
                schema_create_from_template(f"bench_replay_{i}")
            replay_ms.append(sw.ms)
            with Stopwatch() as sw:
                CloneSchema().clone_schema(
                    BASE_SCHEMA, f"bench_clone_{i}", "DATA", set_connection=False
                )
            clone_ms.append(sw.ms)
            with Stopwatch() as sw:
                _create_schema(f"bench_migrate_{i}")
                _migrate(f"bench_migrate_{i}")
            migrate_ms.append(sw.ms)
        progress("tenants created", i, n, max(1, n // 5))

    last = slow_n * stride
    tables = {
        "tenant_create": _table_count(tenant.schema_name),
        "replay only": _table_count(f"bench_replay_{last}"),
        "clone": _table_count(f"bench_clone_{last}"),
        "migrate": _table_count(f"bench_migrate_{last}"),
    }
    say(
        f"  tables in a tenant schema: {tables['tenant_create']} "
        f"(clone {tables['clone']}, migrate {tables['migrate']})"
    )
    if len(set(tables.values())) != 1:
        raise RuntimeError(f"the paths built different schemas: {tables}")

    rows = [
        ("tenant_create", create_ms),
        ("  of which template replay", replay_ms),
        ("django-tenants clone_schema", clone_ms),
        ("migrate_schemas (new schema)", migrate_ms),
    ]
    say(f"  {'path':<30} {'n':>4} {'median ms':>10} {'p90 ms':>9} {'min ms':>8}")
    for label, values in rows:
        say(
            f"  {label:<30} {len(values):>4} {median(values):>10.2f} "
            f"{percentile(values, 90):>9.2f} {min(values):>8.2f}"
        )
    say("  (clone_schema alone: django-tenants follows it with a fake migrate_schemas, not timed)")
    create, clone, migrate = median(create_ms), median(clone_ms), median(migrate_ms)
    say(f"  clone / tenant_create:   {clone / create:.2f}x")
    say(f"  migrate / tenant_create: {migrate / create:.2f}x")
    goal(f"tenant_create median <= {GOAL_MS:.0f} ms ({create:.2f} ms)", create <= GOAL_MS)
    goal(
        f">= {GOAL_VS_CLONE:.0f}x faster than clone ({clone / create:.2f}x)",
        clone / create >= GOAL_VS_CLONE,
    )
    goal(
        f">= {GOAL_VS_MIGRATE:.0f}x faster than migrate ({migrate / create:.2f}x)",
        migrate / create >= GOAL_VS_MIGRATE,
    )
