"""A schema built from the template must be the schema migrations would build."""

from django.core.management import call_command
from django.db import connection

from tenancy.models import SchemaTemplate
from tenancy.schema_template import migrations_fingerprint, template_build

CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
               coalesce(column_default, ''), coalesce(character_maximum_length, 0),
               is_identity, coalesce(identity_generation, '')
          FROM information_schema.columns WHERE table_schema = %(s)s""",
    "constraints": """
        SELECT cl.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
          FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid
          JOIN pg_namespace n ON n.oid = cl.relnamespace WHERE n.nspname = %(s)s""",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %(s)s",
    "sequences": """
        SELECT sequence_name, data_type, start_value, increment
          FROM information_schema.sequences WHERE sequence_schema = %(s)s""",
    "triggers": """
        SELECT event_object_table, trigger_name, action_timing, event_manipulation
          FROM information_schema.triggers WHERE trigger_schema = %(s)s""",
    "migrations": "SELECT app, name FROM {schema}.django_migrations",
}


def catalog(schema: str) -> dict[str, set[tuple]]:
    result = {}
    with connection.cursor() as cursor:
        for key, sql in CATALOG_QUERIES.items():
            cursor.execute(sql.format(schema=f'"{schema}"'), {"s": schema})
            result[key] = {
                tuple(str(v).replace(f'"{schema}".', "").replace(f"{schema}.", "") for v in row)
                for row in cursor.fetchall()
            }
    return result


def test_template_schema_matches_migrated_schema(make_tenant):
    tenant = make_tenant("fast-path")
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "t_migrated"')
    call_command(
        "migrate_schemas", schema_name="t_migrated", tenant=True, interactive=False, verbosity=0
    )
    connection.set_schema_to_public()
    fast, migrated = catalog(tenant.schema_name), catalog("t_migrated")
    assert migrated["columns"], "the migrated schema has tables"
    assert len(migrated["migrations"]) >= 1
    for key in CATALOG_QUERIES:
        assert fast[key] == migrated[key], f"{key} differ"


def test_template_is_reused_and_tracks_migrations(db, monkeypatch):
    first = template_build()
    assert template_build().pk == first.pk  # unchanged migrations: no rebuild
    # A changed migration set (new fingerprint) captures a new template.
    monkeypatch.setattr("tenancy.schema_template.migrations_fingerprint", lambda: "f" * 64)
    rebuilt = template_build()
    assert rebuilt.fingerprint == "f" * 64
    assert rebuilt.statements == first.statements
    assert SchemaTemplate.objects.filter(fingerprint=migrations_fingerprint()).count() == 0


def test_fingerprint_covers_every_tenant_migration():
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(None, ignore_no_migrations=True)
    assert ("community", "0001_initial") in loader.disk_migrations
    assert len(migrations_fingerprint()) == 64
