"""Fast tenant schemas: replay captured DDL instead of running migrations per tenant.

The template is built by migrating a scratch schema from zero while recording every
statement the migrations execute (DDL, and the django_migrations rows the recorder
writes). Replaying that script into a new schema inside one transaction gives the same
catalog as running the migrations (tests/tenancy/test_schema_template.py compares
them) at a fraction of the cost. The template is keyed by a fingerprint of every
migration file, so a changed or added migration rebuilds it on first use.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

from tenancy.connection import schema_connection
from tenancy.models import SchemaTemplate

logger = logging.getLogger(__name__)

# Statements that read or only steer the session; everything else builds the schema.
_SKIP = re.compile(r"^\s*(SELECT|SHOW|SET\s+search_path|SAVEPOINT|RELEASE|ROLLBACK)\b", re.I)
SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@functools.cache
def migrations_fingerprint() -> str:
    """sha256 over every migration module of every installed app (name and source)."""
    loader = MigrationLoader(None, ignore_no_migrations=True, load=True)
    digest = hashlib.sha256()
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        digest.update(f"{app_label}.{name}\n".encode())
        module = __import__(type(migration).__module__, fromlist=["Migration"])
        source = getattr(module, "__file__", None)
        if source:
            digest.update(Path(source).read_bytes())
    return digest.hexdigest()


_NOW = "__bragabot_template_now__"


def _literal(value: Any) -> Any:
    # Timestamps (the recorder's "applied") become now() at replay: each tenant records
    # when its own schema was built.
    if isinstance(value, datetime.datetime):
        return _NOW
    return value


def _capture_migration_sql(scratch: str) -> str:
    """Migrate ``scratch`` from zero and return every schema-building statement as one
    SQL script with parameters inlined."""
    captured: list[str] = []

    def record(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not _SKIP.match(sql):
            cursor = context["cursor"]
            rows = params if many else [params]
            for row in rows:
                text = cursor.mogrify(sql, [_literal(p) for p in row] if row else row)
                captured.append(text.decode() if isinstance(text, bytes) else text)
        return result

    with connection.execute_wrapper(record):
        call_command(
            "migrate_schemas",
            schema_name=scratch,
            tenant=True,
            interactive=False,
            verbosity=0,
        )
    script = ";\n".join(statement.rstrip().rstrip(";") for statement in captured) + ";\n"
    return script.replace(f"'{_NOW}'", "now()")


def template_build(*, force: bool = False) -> SchemaTemplate:
    """Return the template for the current migrations, capturing it if needed."""
    fingerprint = migrations_fingerprint()
    if not force:
        existing = SchemaTemplate.objects.filter(fingerprint=fingerprint).first()
        if existing is not None:
            return existing
    scratch = settings.TENANT_TEMPLATE_SCHEMA
    logger.info("tenancy.template.build", extra={"fingerprint": fingerprint[:12]})
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
        cursor.execute(f'CREATE SCHEMA "{scratch}"')
    try:
        script = _capture_migration_sql(scratch)
    finally:
        schema_connection.set_schema_to_public()
    with transaction.atomic():
        SchemaTemplate.objects.exclude(fingerprint=fingerprint).delete()
        template, _ = SchemaTemplate.objects.update_or_create(
            fingerprint=fingerprint, defaults={"statements": script}
        )
    return template


def schema_create_from_template(schema_name: str) -> None:
    """Create ``schema_name`` and build it from the template, in the caller's transaction."""
    if not SCHEMA_NAME.match(schema_name):
        raise ValueError(f"invalid schema name {schema_name!r}")
    script = template_build().statements
    with connection.cursor() as cursor:
        cursor.execute(
            f'CREATE SCHEMA "{schema_name}"; SET LOCAL search_path TO "{schema_name}", public;\n'
            + script
        )
    # django-tenants caches the search_path it set; make it set it again.
    schema_connection.search_path_set_schemas = None
