"""One name for one concept: the bulk send is a broadcast, as the API has always called it.

The table becomes notifications_broadcast and the outbox's column broadcast_id (renames in
place: no data moves). The named indexes and the unique constraint follow; the generated
names (primary key, sequence, the foreign key's constraint and index) stay as they were,
as nothing refers to them. Audit entries keep their action names (``bulk_send.*``): they
are recorded data, hashed into the chain.
"""

from django.db import migrations, models

RENAME_INDEX = "ALTER INDEX {} RENAME TO {}"
RENAME_CONSTRAINT = "ALTER TABLE notifications_broadcast RENAME CONSTRAINT {} TO {}"


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_outbox_chat_queue"),
    ]

    operations = [
        migrations.RenameModel(old_name="BulkSend", new_name="Broadcast"),
        migrations.RenameField(model_name="outboxmessage", old_name="bulk", new_name="broadcast"),
        migrations.RenameIndex(
            model_name="broadcast",
            new_name="ntf_broadcast_bot_status",
            old_name="ntf_bulksend_bot_status",
        ),
        # The index's field was renamed with the column above; the state still names the
        # old field, so the index is renamed in place and replaced in the state.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    RENAME_INDEX.format("ntf_outbox_bulk_status", "ntf_outbox_broadcast_status"),
                    reverse_sql=RENAME_INDEX.format(
                        "ntf_outbox_broadcast_status", "ntf_outbox_bulk_status"
                    ),
                ),
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="outboxmessage", name="ntf_outbox_bulk_status"),
                migrations.AddIndex(
                    model_name="outboxmessage",
                    index=models.Index(
                        fields=["broadcast", "status"], name="ntf_outbox_broadcast_status"
                    ),
                ),
            ],
        ),
        # Django has no RenameConstraint: rename it in place rather than drop and rebuild
        # the unique index.
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    RENAME_CONSTRAINT.format(
                        "ntf_bulksend_idempotency", "ntf_broadcast_idempotency"
                    ),
                    reverse_sql=RENAME_CONSTRAINT.format(
                        "ntf_broadcast_idempotency", "ntf_bulksend_idempotency"
                    ),
                ),
            ],
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="broadcast", name="ntf_bulksend_idempotency"
                ),
                migrations.AddConstraint(
                    model_name="broadcast",
                    constraint=models.UniqueConstraint(
                        fields=("tenant", "idempotency_key"), name="ntf_broadcast_idempotency"
                    ),
                ),
            ],
        ),
    ]
