"""The audit table against someone with an SQL session: TRUNCATE is refused, and rows
leave only through ``history_archive_delete`` (migration 0004), whatever the session sets."""

import uuid

import pytest
from django.db import DatabaseError, connection, transaction

from history.chain import chain_key
from history.models import ChainHead, Entry
from history.services import history_seal, record


def _sql(sql: str, params: list | None = None) -> int:
    """Run ``sql`` in a savepoint (so a refusal leaves the test's transaction usable)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.rowcount


def _sealed(tenant, n: int = 3) -> list[Entry]:
    for i in range(n):
        record(action="thing.done", tenant=tenant, data={"i": i})
    history_seal()
    return list(Entry.objects.filter(tenant=tenant).order_by("seq"))


@pytest.mark.parametrize("table", ["history_entry", "history_chainhead"])
def test_truncate_is_refused(tenant, table):
    rows = _sealed(tenant)
    with pytest.raises(DatabaseError, match=f"{table} is append-only \\(TRUNCATE refused\\)"):
        _sql(f"TRUNCATE {table}")
    assert Entry.objects.filter(id=rows[0].id).exists()


def test_delete_is_refused_even_with_the_old_archiving_switch(tenant):
    rows = _sealed(tenant)
    with pytest.raises(DatabaseError, match="append-only \\(DELETE refused\\)"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL history.archiving = 'on'")
            cursor.execute("DELETE FROM history_entry WHERE id = %s", [rows[0].id])
    assert Entry.objects.filter(id=rows[0].id).exists()


def test_a_look_alike_function_cannot_delete(tenant):
    """The trigger checks who issued the DELETE: a function of the same name in another
    schema (here the session's temporary one) is not the archive path."""
    rows = _sealed(tenant)
    with pytest.raises(DatabaseError, match="append-only \\(DELETE refused\\)"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE FUNCTION pg_temp.history_archive_delete(p_id bigint) RETURNS void "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "DELETE FROM public.history_entry WHERE id = p_id; END $$"
            )
            cursor.execute("SELECT pg_temp.history_archive_delete(%s)", [rows[0].id])
    assert Entry.objects.filter(id=rows[0].id).exists()


@pytest.fixture
def other_role(db):
    """A role that is not the table's owner, created (and dropped) inside the test's
    transaction, with DELETE granted on the audit table."""
    name = f"history_intruder_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} NOLOGIN")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        cursor.execute(f"GRANT SELECT, DELETE, TRUNCATE ON history_entry TO {name}")
        cursor.execute(f"GRANT SELECT, UPDATE ON history_chainhead TO {name}")
    return name


def test_another_role_cannot_delete_even_with_delete_granted(tenant, other_role):
    rows = _sealed(tenant)
    with pytest.raises(DatabaseError, match="append-only \\(DELETE refused\\)"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {other_role}")
            cursor.execute("DELETE FROM public.history_entry WHERE id = %s", [rows[0].id])
    with pytest.raises(DatabaseError, match="permission denied for function"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL ROLE {other_role}")
            cursor.execute(
                "SELECT public.history_archive_delete(%s, %s, %s)",
                [rows[0].chain, rows[0].seq, rows[0].hash],
            )
    assert Entry.objects.filter(id=rows[0].id).exists()


def test_another_role_cannot_delete_through_its_own_copy_of_the_function(tenant, other_role):
    """A copy with the same name, signature and statement, in a schema of its own on its
    search_path, still runs as that role: only the owner's function passes."""
    rows = _sealed(tenant)
    with pytest.raises(DatabaseError, match="append-only \\(DELETE refused\\)"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"CREATE SCHEMA {other_role} AUTHORIZATION {other_role}")
            cursor.execute(f"SET LOCAL ROLE {other_role}")
            cursor.execute(f"SET LOCAL search_path = {other_role}, public")
            cursor.execute(
                f"CREATE FUNCTION {other_role}.history_archive_delete("
                "p_chain text, p_up_to_seq bigint, p_up_to_hash text) RETURNS void "
                "LANGUAGE plpgsql AS $$ DECLARE head record; BEGIN "
                "SELECT 0 AS anchor_seq INTO head; "
                "DELETE FROM history_entry WHERE chain = p_chain"
                " AND seq > head.anchor_seq AND seq <= p_up_to_seq; END $$"
            )
            cursor.execute(
                "SELECT history_archive_delete(%s, %s, %s)",
                [rows[0].chain, rows[0].seq, rows[0].hash],
            )
    assert Entry.objects.filter(id=rows[0].id).exists()


def test_a_role_granted_the_function_archives_through_it(tenant, other_role):
    """EXECUTE on the function is all an application role needs: it runs as the owner."""
    rows = _sealed(tenant)
    chain = chain_key(tenant.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"GRANT EXECUTE ON FUNCTION history_archive_delete(text, bigint, text) TO {other_role}"
        )
        cursor.execute(f"SET LOCAL ROLE {other_role}")
        cursor.execute(
            "SELECT public.history_archive_delete(%s, %s, %s)", [chain, rows[1].seq, rows[1].hash]
        )
        deleted = cursor.fetchone()[0]
        cursor.execute("RESET ROLE")
    assert deleted == 2
    assert [e.seq for e in Entry.objects.filter(chain=chain).order_by("seq")] == [
        r.seq for r in rows[2:]
    ]
    head = ChainHead.objects.get(chain=chain)
    assert (head.anchor_seq, head.anchor_hash) == (rows[1].seq, rows[1].hash)


@pytest.mark.parametrize(
    ("pick", "message"),
    [
        (lambda rows: (rows[1].seq, "0" * 64), "does not carry the hash archived"),
        (lambda rows: (rows[-1].seq + 5, rows[-1].hash), "is not between the anchor"),
        (lambda rows: (0, rows[0].hash), "is not between the anchor"),
    ],
)
def test_the_archive_function_removes_only_a_checked_prefix(tenant, pick, message):
    rows = _sealed(tenant)
    up_to, digest = pick(rows)
    with pytest.raises(DatabaseError, match=message):
        _sql(
            "SELECT public.history_archive_delete(%s, %s, %s)",
            [chain_key(tenant.pk), up_to, digest],
        )
    assert Entry.objects.filter(tenant=tenant).count() == len(rows)
    assert ChainHead.objects.get(chain=chain_key(tenant.pk)).anchor_seq == 0


def test_the_archive_function_refuses_a_chain_with_a_gap(tenant, tamper):
    rows = _sealed(tenant)
    tamper("DELETE FROM history_entry WHERE id = %s", [rows[1].id])
    with pytest.raises(DatabaseError, match="are not all there"):
        _sql(
            "SELECT public.history_archive_delete(%s, %s, %s)",
            [chain_key(tenant.pk), rows[2].seq, rows[2].hash],
        )
    assert Entry.objects.filter(id=rows[0].id).exists()
