"""The database itself refuses UPDATE and DELETE on history_entry. The archive command
is the one controlled way rows leave: it sets ``history.archiving`` for its transaction."""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION history_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('history.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'history_entry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER history_entry_append_only
    BEFORE UPDATE OR DELETE ON history_entry
    FOR EACH ROW EXECUTE FUNCTION history_entry_append_only();
"""

REVERSE = """
DROP TRIGGER IF EXISTS history_entry_append_only ON history_entry;
DROP FUNCTION IF EXISTS history_entry_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("history", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
