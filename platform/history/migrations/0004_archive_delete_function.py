"""Rows leave history_entry only through ``history_archive_delete``; TRUNCATE is refused.

Before this, the DELETE exit was a setting (``history.archiving``) that any session could
turn on. Now the trigger lets a DELETE through only when both hold:

- ``current_user`` is the table's owner. ``history_archive_delete`` is SECURITY DEFINER,
  owned by the table's owner, so inside it ``current_user`` is the owner whatever role
  called it; a role that is not the owner fails this check even if it was granted DELETE,
  and cannot make a look-alike function run as the owner.
- the DELETE statement was issued by ``history_archive_delete`` itself: the frame above the
  statement in the PL/pgSQL call stack (PG_CONTEXT) is that function. No setting a session
  can change takes part, so the owner's own sessions (the application's, usually) cannot
  delete by SQL either; they would have to create a function or drop the trigger, both DDL.

The function removes only a prefix of a chain: the entries after the head's anchor up to
a given entry, which must carry the hash the caller checked, and it moves the anchor in the
same statement sequence, so verification resumes exactly where the rows stop.

The table's owner (and a superuser) can still disable or drop these triggers; that is what
the daily published anchors (history.anchors) are for.
"""

from django.db import migrations

# One line: the trigger recognises it, verbatim, in the call stack.
ARCHIVE_DELETE = (
    "DELETE FROM history_entry WHERE chain = p_chain"
    " AND seq > head.anchor_seq AND seq <= p_up_to_seq"
)

FORWARD = """
CREATE OR REPLACE FUNCTION history_entry_append_only() RETURNS trigger AS $$
DECLARE
    stack text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        GET DIAGNOSTICS stack = PG_CONTEXT;
        -- line 1: this trigger; line 2: the statement that fired it (only present when a
        -- function issued it); line 3: that function.
        IF (SELECT relowner FROM pg_class WHERE oid = TG_RELID)
               = (SELECT oid FROM pg_roles WHERE rolname = current_user)
           AND split_part(stack, E'\\n', 2) = 'SQL statement "ARCHIVE_DELETE"'
           AND split_part(stack, E'\\n', 3)
               ~ '^PL/pgSQL function (public\\.)?history_archive_delete\\(text,bigint,text\\) '
        THEN
            RETURN OLD;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (NEW.id, NEW.tenant_id, NEW.chain, NEW.actor_type, NEW.actor_id, NEW.action,
            NEW.target_type, NEW.target_id, NEW.data, NEW.ip, NEW.user_agent, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.chain, OLD.actor_type, OLD.actor_id, OLD.action,
            OLD.target_type, OLD.target_id, OLD.data, OLD.ip, OLD.user_agent, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'history_entry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION history_refuse_truncate() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only (TRUNCATE refused)', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER history_entry_no_truncate
    BEFORE TRUNCATE ON history_entry
    FOR EACH STATEMENT EXECUTE FUNCTION history_refuse_truncate();
CREATE TRIGGER history_chainhead_no_truncate
    BEFORE TRUNCATE ON history_chainhead
    FOR EACH STATEMENT EXECUTE FUNCTION history_refuse_truncate();

CREATE FUNCTION history_archive_delete(p_chain text, p_up_to_seq bigint, p_up_to_hash text)
RETURNS bigint
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    head history_chainhead%ROWTYPE;
    stored text;
    deleted bigint;
BEGIN
    SELECT * INTO head FROM history_chainhead WHERE chain = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'history chain % has no head', p_chain USING ERRCODE = 'no_data_found';
    END IF;
    IF p_up_to_seq <= head.anchor_seq OR p_up_to_seq > head.seq THEN
        RAISE EXCEPTION 'history chain %: entry % is not between the anchor % and the head %',
            p_chain, p_up_to_seq, head.anchor_seq, head.seq
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT hash INTO stored FROM history_entry WHERE chain = p_chain AND seq = p_up_to_seq;
    IF stored IS DISTINCT FROM p_up_to_hash THEN
        RAISE EXCEPTION 'history chain %: entry % does not carry the hash archived', p_chain,
            p_up_to_seq USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ARCHIVE_DELETE;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    IF deleted <> p_up_to_seq - head.anchor_seq THEN
        RAISE EXCEPTION 'history chain %: entries % to % are not all there', p_chain,
            head.anchor_seq + 1, p_up_to_seq USING ERRCODE = 'data_exception';
    END IF;
    UPDATE history_chainhead SET anchor_seq = p_up_to_seq, anchor_hash = p_up_to_hash
     WHERE chain = p_chain;
    RETURN deleted;
END;
$$ LANGUAGE plpgsql;

-- Only the owner (the role that migrates) may call it unless it grants EXECUTE to the
-- application's role; a read-only role must not be able to archive.
REVOKE ALL ON FUNCTION history_archive_delete(text, bigint, text) FROM PUBLIC;
""".replace("ARCHIVE_DELETE", ARCHIVE_DELETE)

REVERSE = """
DROP FUNCTION IF EXISTS history_archive_delete(text, bigint, text);
DROP TRIGGER IF EXISTS history_chainhead_no_truncate ON history_chainhead;
DROP TRIGGER IF EXISTS history_entry_no_truncate ON history_entry;
DROP FUNCTION IF EXISTS history_refuse_truncate();
CREATE OR REPLACE FUNCTION history_entry_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('history.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND NEW.seq IS NOT NULL
       AND NEW.hash IS NOT NULL AND NEW.prev_hash IS NOT NULL
       AND (NEW.id, NEW.tenant_id, NEW.chain, NEW.actor_type, NEW.actor_id, NEW.action,
            NEW.target_type, NEW.target_id, NEW.data, NEW.ip, NEW.user_agent, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.tenant_id, OLD.chain, OLD.actor_type, OLD.actor_id, OLD.action,
            OLD.target_type, OLD.target_id, OLD.data, OLD.ip, OLD.user_agent, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'history_entry is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("history", "0003_deferred_sealing")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
