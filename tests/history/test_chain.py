import itertools
import math
import threading

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test import RequestFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from history.chain import GENESIS, chain_key, json_normalize
from history.models import ChainHead, Entry
from history.selectors import chain_head, chain_verify, tenant_chain_verify
from history.services import Actor, chain_seal, history_seal, record
from tenancy.models import Tenant


def _entries(chain: str) -> list[Entry]:
    chain_seal(chain=chain)
    return list(Entry.objects.filter(chain=chain).order_by("seq"))


def test_recording_is_a_plain_insert_sealed_later(tenant):
    entry_id = record(action="thing.done", tenant=tenant, data={"n": 1})
    entry = Entry.objects.get(id=entry_id)
    assert (entry.seq, entry.prev_hash, entry.hash) == (None, None, None)
    assert tenant_chain_verify(tenant=tenant).pending >= 1
    assert chain_seal(chain=chain_key(tenant.pk)) >= 1
    entry = Entry.objects.get(id=entry_id)
    assert entry.seq == chain_head(tenant=tenant).seq and len(entry.hash) == 64
    assert chain_seal(chain=chain_key(tenant.pk)) == 0  # nothing left to seal
    report = tenant_chain_verify(tenant=tenant)
    assert report.ok and report.pending == 0


def test_sealing_cannot_change_content(tenant):
    entry_id = record(action="thing.done", tenant=tenant, data={"n": 1})
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE history_entry SET seq = 99, prev_hash = %s, hash = %s, data = '{}' "
                "WHERE id = %s",
                [GENESIS, GENESIS, entry_id],
            )
    assert Entry.objects.get(id=entry_id).data == {"n": 1}


def test_entries_link_into_a_chain_per_tenant(make_tenant):
    one, two = make_tenant(), make_tenant()
    for n in range(3):
        record(action="thing.done", tenant=one, target=("thing", n), data={"n": n})
    record(action="thing.done", tenant=two.pk, data={"n": 0})

    rows = _entries(chain_key(one.pk))
    # tenant_create wrote tenant.created (and bot registration is folded into it) first
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert [r.data for r in rows[-3:]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert rows[-1].target_type == "thing" and rows[-1].target_id == "2"
    head = chain_head(tenant=one)
    assert (head.seq, head.last_hash) == (rows[-1].seq, rows[-1].hash)

    other = _entries(chain_key(two.pk))
    assert other[-1].seq == len(other) and other[-1].tenant_id == two.pk
    assert tenant_chain_verify(tenant=one).ok
    report = tenant_chain_verify(tenant=two)
    assert report.ok and report.checked == len(other)


def test_public_tenant_and_none_share_the_platform_chain(db):
    public = Tenant.objects.get(schema_name="public")
    a = record(action="platform.thing", tenant=public)
    b = record(action="platform.thing")
    history_seal()
    rows = Entry.objects.filter(id__in=[a, b]).order_by("seq")
    assert [r.chain for r in rows] == ["platform", "platform"]
    assert [r.tenant_id for r in rows] == [None, None]
    assert rows[1].seq == rows[0].seq + 1
    assert chain_verify(chain="platform").ok


def test_actor_and_request_details_are_stored_and_hashed(tenant):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="TelegramBot\x00/1.0 " + "x" * 400
    )
    entry_id = record(
        action="role.assigned",
        actor=Actor.user(777),
        tenant=tenant,
        target=("user", 42),
        data={"role": "admin"},
        request=request,
    )
    entry = Entry.objects.get(id=entry_id)
    assert (entry.actor_type, entry.actor_id) == ("user", "777")
    assert entry.ip == "203.0.113.9"
    assert entry.user_agent.startswith("TelegramBot/1.0 ") and len(entry.user_agent) == 300
    assert tenant_chain_verify(tenant=tenant).ok


@pytest.mark.parametrize(
    ("remote", "stored"),
    [
        ("::1.2.3.4", "::1.2.3.4"),  # PostgreSQL and Python print this one differently
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("2001:DB8::0:1", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),  # zone ids are not storable in inet
        ("not-an-ip", None),
    ],
)
def test_ip_spellings_store_and_still_verify(tenant, remote, stored):
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    entry = Entry.objects.get(id=record(action="x.y", tenant=tenant, request=request))
    assert entry.ip == stored
    assert tenant_chain_verify(tenant=tenant).ok


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Created"}, "noun.verb"),
        ({"action": "raid"}, "noun.verb"),
        ({"action": "raid.created", "target": ("raid", "x" * 65)}, "target_id"),
        ({"action": "raid.created", "actor": Actor("robot", "1")}, "actor type"),
    ],
)
def test_malformed_entries_are_refused_before_touching_the_chain(tenant, kwargs, message):
    before = Entry.objects.filter(tenant=tenant).count()
    with pytest.raises(ValueError, match=message):
        record(tenant=tenant, **kwargs)
    assert Entry.objects.filter(tenant=tenant).count() == before


def test_the_orm_cannot_write_or_remove_entries(tenant):
    entry = Entry.objects.filter(tenant=tenant).first()
    with pytest.raises(TypeError):
        Entry.objects.create(
            chain="x",
            seq=1,
            actor_type="system",
            action="a.b",
            created_at=entry.created_at,
            prev_hash=GENESIS,
            hash=GENESIS,
        )
    with pytest.raises(TypeError):
        Entry.objects.bulk_create([Entry(chain="x", seq=1)])
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        Entry.objects.filter(tenant=tenant).update(action="x.y")
    with pytest.raises(TypeError):
        Entry.objects.filter(tenant=tenant).delete()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE history_entry SET data = '{}' WHERE id = %s",
        "DELETE FROM history_entry WHERE id = %s",
    ],
)
def test_the_database_refuses_update_and_delete(tenant, sql):
    entry = Entry.objects.filter(tenant=tenant).first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql, [entry.id])
    assert Entry.objects.filter(id=entry.id).exists()


def _chain_with_entries(tenant, n: int = 5) -> list[Entry]:
    for i in range(n):
        record(action="thing.done", tenant=tenant, data={"i": i})
    return _entries(chain_key(tenant.pk))


def test_altered_content_is_detected(tenant, tamper):
    rows = _chain_with_entries(tenant)
    target = rows[3]
    tamper("UPDATE history_entry SET data = %s WHERE id = %s", ['{"i": 999}', target.id])
    report = tenant_chain_verify(tenant=tenant)
    assert not report.ok
    assert report.error == f"entry {target.seq} was altered (hash mismatch)"
    assert report.last_seq == target.seq - 1


def test_rewritten_hash_breaks_the_next_link(tenant, tamper):
    rows = _chain_with_entries(tenant)
    target = rows[2]
    tamper(
        "UPDATE history_entry SET action = 'thing.undone', hash = %s WHERE id = %s",
        ["f" * 64, target.id],
    )
    report = tenant_chain_verify(tenant=tenant)
    assert not report.ok and str(target.seq) in report.error


def test_removed_entries_are_detected(tenant, tamper):
    rows = _chain_with_entries(tenant)
    tamper("DELETE FROM history_entry WHERE id = ANY(%s)", [[rows[2].id, rows[3].id]])
    report = tenant_chain_verify(tenant=tenant)
    assert not report.ok
    assert report.error == (
        f"entries {rows[2].seq}..{rows[3].seq} are missing (next is {rows[4].seq})"
    )


def test_removed_tail_is_detected_by_the_head(tenant, tamper):
    rows = _chain_with_entries(tenant)
    tamper("DELETE FROM history_entry WHERE id = %s", [rows[-1].id])
    report = tenant_chain_verify(tenant=tenant)
    assert not report.ok
    assert "head says entry" in report.error


def test_an_entry_moved_to_another_tenant_is_detected(make_tenant, tamper):
    one, two = make_tenant(), make_tenant()
    rows = _chain_with_entries(one, 2)
    tamper("UPDATE history_entry SET tenant_id = %s WHERE id = %s", [two.pk, rows[-1].id])
    report = tenant_chain_verify(tenant=one)
    assert not report.ok and "another chain" in report.error


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_json_payload_reads_back_as_hashed(tenant, data):
    """Whatever a caller passes, the stored jsonb reads back exactly as it was hashed,
    so verification never raises a false alarm."""
    entry = Entry.objects.get(id=record(action="fuzz.case", tenant=tenant, data=data))
    assert entry.data == json_normalize(data)
    report = tenant_chain_verify(tenant=tenant)
    assert report.ok, report.error


@pytest.mark.parametrize("text", ["nul\x00inside", "lone \ud800 surrogate", "ünïcödé", "ascii"])
@pytest.mark.parametrize("where", ["value", "key"])
def test_flat_payloads_of_any_text_read_back_as_hashed(tenant, text, where):
    """A flat dict of words and numbers skips the JSON round trip; text that PostgreSQL
    would not store as given still goes through it, as a key or as a value."""
    data = {"text": text} if where == "value" else {text: "ascii"}
    data.update({"n": 1, "flag": True, "none": None})
    entry = Entry.objects.get(id=record(action="fuzz.flat", tenant=tenant, data=data))
    assert entry.data == json_normalize(data)
    assert not any("\x00" in key or "\x00" in str(value) for key, value in entry.data.items())
    report = tenant_chain_verify(tenant=tenant)
    assert report.ok, report.error


def test_awkward_numbers_are_normalised():
    assert json_normalize({"a": 1e20, "b": -0.0, "c": math.inf, "d": 1e-7, "e": 1.5}) == {
        "a": 100000000000000000000,
        "b": 0.0,
        "c": "inf",
        "d": 1e-7,
        "e": 1.5,
    }


FAKE_TENANT_ID = 987_654_321


def _drop_fake_chain() -> None:
    """Committed rows outlive the test's rollback: remove them on a connection of its own."""

    def drop() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # Past the append-only triggers, as only a superuser can.
                cursor.execute("SET LOCAL session_replication_role = replica")
                cursor.execute(
                    "DELETE FROM history_entry WHERE chain = %s", [chain_key(FAKE_TENANT_ID)]
                )
                cursor.execute(
                    "DELETE FROM history_chainhead WHERE chain = %s", [chain_key(FAKE_TENANT_ID)]
                )
        finally:
            connections.close_all()

    cleaner = threading.Thread(target=drop)
    cleaner.start()
    cleaner.join(60)


def test_concurrent_appends_get_consecutive_seqs(db):
    """Threads have their own connections and really commit; then two sealers race to
    create the chain head and to link the entries."""
    threads, per_thread = 6, 5
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                with transaction.atomic():
                    record(action="race.step", tenant=FAKE_TENANT_ID, data={"t": n, "i": i})
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def work_seal() -> None:
        try:
            chain_seal(chain=chain_key(FAKE_TENANT_ID))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        # Two sealers race for the chain; they take turns on its head row.
        sealers = [threading.Thread(target=work_seal) for _ in range(2)]
        for sealer in sealers:
            sealer.start()
        for sealer in sealers:
            sealer.join(60)
        assert not errors
        chain = chain_key(FAKE_TENANT_ID)
        seqs = list(Entry.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, threads * per_thread + 1))
        assert ChainHead.objects.get(chain=chain).seq == threads * per_thread
        report = chain_verify(chain=chain)
        assert report.ok, report.error
    finally:
        _drop_fake_chain()
    assert not Entry.objects.filter(chain=chain_key(FAKE_TENANT_ID)).exists()
