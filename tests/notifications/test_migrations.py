"""Migration 0003 renames the bulk send to the broadcast in place: rows, links between
them and the audit trail stay; the table, column, indexes and constraint take the new
name; tenant schemas get nothing (a public-schema app)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from history.chain import chain_key
from history.models import Entry
from history.selectors import tenant_chain_verify
from history.services import SYSTEM, Actor, chain_seal
from notifications.models import Broadcast, OutboxMessage
from notifications.services import broadcast_cancel, broadcast_create, broadcast_expand
from tests.helpers import bot_id_of

pytestmark = pytest.mark.django_db

BEFORE = ("notifications", "0002_outbox_chat_queue")
AFTER = ("notifications", "0003_broadcast")


def _migrate(target: tuple[str, str]):
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return executor.loader.project_state(target).apps


def _check_foreign_keys_now() -> None:
    """ALTER TABLE refuses a table with foreign-key checks still deferred in the test's
    transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _names(sql: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {row[0] for row in cursor.fetchall()}


def _catalog() -> dict[str, set[str]]:
    return {
        "tables": _names(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename IN ('notifications_bulksend', 'notifications_broadcast')"
        ),
        "columns": _names(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = 'notifications_outboxmessage'"
            " AND column_name IN ('bulk_id', 'broadcast_id')"
        ),
        "indexes": _names(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            " AND (indexname LIKE 'ntf_bulksend%%' OR indexname LIKE 'ntf_broadcast%%'"
            " OR indexname IN ('ntf_outbox_bulk_status', 'ntf_outbox_broadcast_status'))"
        ),
        "constraints": _names(
            "SELECT conname FROM pg_constraint"
            " WHERE conname IN ('ntf_bulksend_idempotency', 'ntf_broadcast_idempotency')"
        ),
    }


def test_the_rename_keeps_every_row_and_renames_every_named_object(tenant, person):
    connection.set_schema_to_public()
    person(tenant, "fan")
    broadcast = broadcast_create(
        tenant=tenant, text="Hello", idempotency_key="m1", actor=Actor.user(1)
    )
    broadcast_expand(bot_id=bot_id_of(tenant))
    message = OutboxMessage.objects.get(broadcast=broadcast)
    _check_foreign_keys_now()

    old_apps = _migrate(BEFORE)
    assert _catalog() == {
        "tables": {"notifications_bulksend"},
        "columns": {"bulk_id"},
        "indexes": {
            "ntf_bulksend_bot_status",
            "ntf_bulksend_idempotency",
            "ntf_outbox_bulk_status",
        },
        "constraints": {"ntf_bulksend_idempotency"},
    }
    old_outbox = old_apps.get_model("notifications", "OutboxMessage")
    assert old_outbox.objects.get(pk=message.pk).bulk_id == broadcast.pk
    # The rows a deploy finds, written by the old code: a second bulk send and its message.
    second = old_apps.get_model("notifications", "BulkSend").objects.create(
        tenant_id=tenant.pk,
        bot_id=bot_id_of(tenant),
        event="announcement",
        text="Second",
        audience="tenant",
        idempotency_key="m2",
    )
    old_outbox.objects.create(
        tenant_id=tenant.pk,
        bot_id=second.bot_id,
        chat_id=message.chat_id,
        event="announcement",
        text="Second",
        bulk_id=second.pk,
        idempotency_key=f"bulk:{second.pk}:{message.chat_id}",
    )

    _migrate(AFTER)
    assert _catalog() == {
        "tables": {"notifications_broadcast"},
        "columns": {"broadcast_id"},
        "indexes": {
            "ntf_broadcast_bot_status",
            "ntf_broadcast_idempotency",
            "ntf_outbox_broadcast_status",
        },
        "constraints": {"ntf_broadcast_idempotency"},
    }
    assert OutboxMessage.objects.get(pk=message.pk).broadcast_id == broadcast.pk
    moved = Broadcast.objects.get(pk=second.pk)
    assert (moved.text, list(moved.messages.values_list("text", flat=True))) == (
        "Second",
        ["Second"],
    )
    # The new code goes on where the old one stopped: the same key is the same broadcast.
    again = broadcast_create(tenant=tenant, text="Second", idempotency_key="m2", actor=SYSTEM)
    assert again.pk == second.pk


def test_the_models_match_the_migrations():
    call_command("makemigrations", "notifications", "--check", "--dry-run", verbosity=0)


def test_tenant_schemas_record_the_rename_and_hold_no_notification_table(tenant):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name FROM {tenant.schema_name}.django_migrations"
            " WHERE app = 'notifications' ORDER BY name"
        )
        recorded = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s"
            " AND tablename LIKE 'notifications%%'",
            [tenant.schema_name],
        )
        tables = cursor.fetchone()[0]
    assert recorded[-1] == AFTER[1] and tables == 0


def test_broadcasts_are_audited_under_the_names_already_recorded(tenant, person):
    """Entries written before the rename and after it share one vocabulary (a filter by
    action finds both), and the chain over them verifies."""
    person(tenant, "fan")
    chain_seal(chain=chain_key(tenant.pk))  # what the fixtures recorded
    broadcast = broadcast_create(tenant=tenant, text="Hi", idempotency_key="v", actor=SYSTEM)
    broadcast_cancel(tenant=tenant, broadcast_id=broadcast.pk, actor=Actor.user(5))
    entries = Entry.objects.filter(tenant=tenant, action__startswith="bulk_send.")
    assert list(entries.order_by("id").values_list("action", "target_type", "target_id")) == [
        ("bulk_send.created", "bulk_send", str(broadcast.pk)),
        ("bulk_send.cancelled", "bulk_send", str(broadcast.pk)),
    ]
    assert chain_seal(chain=chain_key(tenant.pk)) == 2
    assert tenant_chain_verify(tenant=tenant).ok
