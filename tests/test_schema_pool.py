"""The suite's pooled tenant schemas (``tests/conftest.py``): a test whose transaction is
rolled back gets a pooled schema renamed to its tenant's, the rollback gives it back
empty, and a committed (``transaction=True``) test builds its tenants' schemas itself."""

from __future__ import annotations

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from branding.models import Brand
from tests.conftest import SCHEMA_POOL


def _pooled() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'pooled_schema_%'")
        return {name for (name,) in cursor.fetchall()}


def _rows(schema: str) -> dict[str, int]:
    """Rows per table of ``schema`` (the recorded migrations left out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename <> %s",
            [schema, "django_migrations"],
        )
        tables = [name for (name,) in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


def test_a_rolled_back_test_takes_a_pooled_schema_for_its_tenant(make_tenant):
    assert _pooled() == set(SCHEMA_POOL)
    tenant = make_tenant()
    assert len(_pooled()) == len(SCHEMA_POOL) - 1
    with tenant_context(tenant):
        Brand.objects.create(pk=Brand.SINGLETON, display_name="Left behind?")
    assert _rows(tenant.schema_name)["branding_brand"] == 1


def test_the_rollback_gives_every_pooled_schema_back_empty(db):
    assert _pooled() == set(SCHEMA_POOL)
    for schema in SCHEMA_POOL:
        rows = _rows(schema)
        assert "branding_brand" in rows and "raids_raid" in rows, "not a tenant schema"
        assert not any(rows.values()), (schema, {t: n for t, n in rows.items() if n})


@pytest.mark.django_db(transaction=True)
def test_a_committed_test_builds_its_tenants_schema(make_tenant):
    tenant = make_tenant()
    assert _pooled() == set(SCHEMA_POOL)
    assert _rows(tenant.schema_name)["branding_brand"] == 0
