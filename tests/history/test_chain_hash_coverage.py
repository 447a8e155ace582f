"""What an entry's hash covers. Every content column, the previous entry's hash (and so
the entries' order) must be in it: a tamper with any of them has to read as "altered",
even when the tamperer keeps the chain's links and numbering plausible."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from history.chain import CONTENT_FIELDS, canonical, chain_key, link, row_hash
from history.models import ChainHead, Entry
from history.selectors import chain_verify
from history.services import Actor, history_seal, record

# One fully specified row and the hash it must get after PREV, computed once (and checked
# with `printf '%s%s' "$PREV" "$CANONICAL" | sha256sum`). A change to canonicalisation
# (a field left out, renamed, respelt, reordered) changes these and fails the test.
GOLDEN_ROW = {
    "tenant_id": 42,
    "actor_type": "user",
    "actor_id": "777",
    "action": "role.assigned",
    "target_type": "user",
    "target_id": "1001",
    "data": {"role": "admin", "weight": 1.5, "tags": ["ü", 7]},
    "ip": "2001:DB8::1",
    "user_agent": "TelegramBot/1.0",
    "created_at": datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
}
GOLDEN_PREV = "ab" * 32
GOLDEN_CANONICAL = (
    '{"action":"role.assigned","actor_id":"777","actor_type":"user",'
    '"created_at":"2026-01-02T03:04:05.678901+00:00",'
    '"data":{"role":"admin","tags":["ü",7],"weight":1.5},'
    '"ip":"2001:0db8:0000:0000:0000:0000:0000:0001","target_id":"1001","target_type":"user",'
    '"tenant":42,"user_agent":"TelegramBot/1.0"}'
)
GOLDEN_HASH = "85921439261cb04a3f7fb7ac4892cf0618a90b82e5bcbd9470ca3890b85e22f9"


def test_golden_vector():
    assert canonical(**GOLDEN_ROW) == GOLDEN_CANONICAL
    assert link(GOLDEN_PREV, GOLDEN_CANONICAL) == GOLDEN_HASH
    assert row_hash(GOLDEN_ROW, GOLDEN_PREV) == GOLDEN_HASH


OTHER_VALUES = {
    "tenant_id": 43,
    "actor_type": "bot",
    "actor_id": "778",
    "action": "role.revoked",
    "target_type": "chat",
    "target_id": "1002",
    "data": {"role": "owner", "weight": 1.5, "tags": ["ü", 7]},
    "ip": "2001:db8::2",
    "user_agent": "TelegramBot/1.1",
    "created_at": GOLDEN_ROW["created_at"] + timedelta(microseconds=1),
}


def test_every_content_field_has_another_value_here():
    assert set(OTHER_VALUES) == set(CONTENT_FIELDS)


@pytest.mark.parametrize("field", CONTENT_FIELDS)
def test_each_content_field_changes_the_hash(field):
    changed = {**GOLDEN_ROW, field: OTHER_VALUES[field]}
    assert row_hash(changed, GOLDEN_PREV) != row_hash(GOLDEN_ROW, GOLDEN_PREV)


def test_the_previous_hash_changes_the_hash():
    assert row_hash(GOLDEN_ROW, "cd" * 32) != row_hash(GOLDEN_ROW, GOLDEN_PREV)


# --- The same, as tampering with stored rows -------------------------------------------


@pytest.fixture
def rows(tenant):
    """Five sealed entries of one tenant, each with every column filled."""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Agent/1")
    for i in range(5):
        record(
            action="thing.done",
            actor=Actor.user(700 + i),
            tenant=tenant,
            target=("thing", i),
            data={"i": i},
            request=request,
        )
    history_seal()
    return list(Entry.objects.filter(tenant=tenant).order_by("seq"))


# A column and the SQL value that replaces it (the same type, a different value).
COLUMN_TAMPERS = {
    "actor_type": "'bot'",
    "actor_id": "'666'",
    "action": "'thing.undone'",
    "target_type": "'other'",
    "target_id": "'999'",
    "data": """'{"i": 999}'::jsonb""",
    "ip": "'198.51.100.7'::inet",
    "user_agent": "'Agent/2'",
    "created_at": "created_at - interval '1 microsecond'",
}


def test_every_content_column_but_the_tenant_is_tampered_here():
    # The tenant is its own test below: its column also names the chain.
    assert set(COLUMN_TAMPERS) | {"tenant_id"} == set(CONTENT_FIELDS)


@pytest.mark.parametrize("column", sorted(COLUMN_TAMPERS))
def test_a_changed_column_reads_as_altered(rows, tamper, column):
    victim = rows[2]
    tamper(
        f"UPDATE history_entry SET {column} = {COLUMN_TAMPERS[column]} WHERE id = %s",
        [victim.id],
    )
    report = chain_verify(chain=victim.chain)
    assert not report.ok
    assert report.error == f"entry {victim.seq} was altered (hash mismatch)"


def test_a_chain_moved_to_another_tenant_reads_as_altered(rows, tamper):
    """Every row and the head renamed consistently: only the hash knows whose it was."""
    old_chain, new_tenant = rows[0].chain, 987_654_001
    new_chain = chain_key(new_tenant)
    tamper(
        "UPDATE history_entry SET tenant_id = %s, chain = %s WHERE chain = %s",
        [new_tenant, new_chain, old_chain],
    )
    tamper("UPDATE history_chainhead SET chain = %s WHERE chain = %s", [new_chain, old_chain])
    report = chain_verify(chain=new_chain)
    assert not report.ok
    assert report.error == "entry 1 was altered (hash mismatch)"


def test_an_entry_cut_out_and_relinked_reads_as_altered(rows, tamper):
    """Entry k removed, the later ones renumbered, entry k+1 pointed at entry k-1's hash
    and the head moved back: the links and numbers are plausible, but entry k+1's hash
    was computed after entry k's hash."""
    cut, after = rows[2], rows[3]
    chain = cut.chain
    tamper("DELETE FROM history_entry WHERE id = %s", [cut.id])
    tamper("UPDATE history_entry SET seq = -seq WHERE chain = %s AND seq > %s", [chain, cut.seq])
    tamper("UPDATE history_entry SET seq = -seq - 1 WHERE chain = %s AND seq < 0", [chain])
    tamper("UPDATE history_entry SET prev_hash = %s WHERE id = %s", [rows[1].hash, after.id])
    tamper("UPDATE history_chainhead SET seq = seq - 1 WHERE chain = %s", [chain])
    assert ChainHead.objects.get(chain=chain).last_hash == rows[-1].hash
    report = chain_verify(chain=chain)
    assert not report.ok
    assert report.error == f"entry {cut.seq} was altered (hash mismatch)"


def test_entries_swapped_in_order_read_as_altered(rows, tamper):
    """Entries k and k+1 exchange their places (seq) and their links (prev_hash), hashes
    untouched: each link is plausible, but each hash was computed in the old order."""
    first, second = rows[1], rows[2]
    chain = first.chain
    tamper("UPDATE history_entry SET seq = -seq WHERE id = ANY(%s)", [[first.id, second.id]])
    tamper(
        "UPDATE history_entry SET seq = %s, prev_hash = %s WHERE id = %s",
        [first.seq, rows[0].hash, second.id],
    )
    tamper(
        "UPDATE history_entry SET seq = %s, prev_hash = %s WHERE id = %s",
        [second.seq, second.hash, first.id],
    )
    tamper("UPDATE history_entry SET prev_hash = %s WHERE id = %s", [first.hash, rows[3].id])
    report = chain_verify(chain=chain)
    assert not report.ok
    assert report.error == f"entry {first.seq} was altered (hash mismatch)"
