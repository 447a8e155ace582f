import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from config.errors import ServiceError
from history.archive import file_sha256, manifests, segment_rows
from history.chain import chain_key
from history.models import ChainHead, Entry
from history.selectors import archive_verify, chain_verify
from history.services import archive_all, chain_archive, history_seal, record


def _fill(tenant, n: int, tag: str = "old") -> None:
    for i in range(n):
        record(action="thing.done", tenant=tenant, data={"tag": tag, "i": i})
    history_seal()


def _live_seqs(chain: str) -> list[int]:
    return list(Entry.objects.filter(chain=chain).order_by("seq").values_list("seq", flat=True))


def test_archive_moves_the_old_prefix_to_a_verified_segment(tenant, archive_dir):
    chain = chain_key(tenant.pk)
    _fill(tenant, 3)
    cutoff = datetime.now(UTC)
    _fill(tenant, 2, "new")
    old = list(Entry.objects.filter(chain=chain, created_at__lt=cutoff).order_by("seq"))

    segments = chain_archive(tenant=tenant, before=cutoff, directory=archive_dir)

    assert len(segments) == 1
    segment = segments[0]
    assert (segment.first_seq, segment.last_seq, segment.count) == (1, old[-1].seq, len(old))
    rows = list(segment_rows(segment.path))
    assert [r["seq"] for r in rows] == [e.seq for e in old]
    assert [r["hash"] for r in rows] == [e.hash for e in old]
    # gone from the table, the head anchored at the last archived entry
    live = _live_seqs(chain)
    assert live[0] == old[-1].seq + 1
    head = ChainHead.objects.get(chain=chain)
    assert (head.anchor_seq, head.anchor_hash) == (old[-1].seq, old[-1].hash)
    # the archiving itself is audited in the chain, with the file's digest
    note = Entry.objects.get(chain=chain, action="history.archived")
    assert note.data["sha256"] == segment.sha256
    assert note.data["last_seq"] == old[-1].seq and note.seq == live[-1]
    assert chain_verify(chain=chain).ok
    report = archive_verify(chain=chain, directory=archive_dir)
    assert report.ok, report.error
    assert (report.checked, report.last_seq) == (len(old), old[-1].seq)


def test_batches_and_later_runs_continue_the_segments(tenant, archive_dir):
    chain = chain_key(tenant.pk)
    _fill(tenant, 4)
    first_cutoff = datetime.now(UTC)
    _fill(tenant, 3, "mid")
    before_first = Entry.objects.filter(chain=chain, created_at__lt=first_cutoff).count()

    segments = chain_archive(
        tenant=tenant, before=first_cutoff, directory=archive_dir, batch_size=2
    )
    assert [s.count for s in segments] == [2] * (before_first // 2) + (
        [before_first % 2] if before_first % 2 else []
    )

    second_cutoff = datetime.now(UTC)
    later = chain_archive(tenant=tenant, before=second_cutoff, directory=archive_dir)
    assert later and later[0].first_seq == segments[-1].last_seq + 1

    found = manifests(directory=archive_dir, chain=chain)
    assert [m["first_seq"] for _, m in found] == [s.first_seq for s in segments + later]
    report = archive_verify(chain=chain, directory=archive_dir)
    assert report.ok, report.error
    assert chain_verify(chain=chain).ok
    # every entry older than the second cutoff is archived, none is duplicated or lost
    assert not Entry.objects.filter(chain=chain, created_at__lt=second_cutoff).exists()
    history_seal()  # the history.archived notes are recorded like any entry
    head = ChainHead.objects.get(chain=chain)
    assert report.checked + len(_live_seqs(chain)) == head.seq


def test_same_rows_give_the_same_bytes(tenant, archive_dir, tmp_path):
    _fill(tenant, 2)
    cutoff = datetime.now(UTC)
    with transaction.atomic():
        first = chain_archive(tenant=tenant, before=cutoff, directory=archive_dir)[0]
        transaction.set_rollback(True)
    again = chain_archive(tenant=tenant, before=cutoff, directory=tmp_path / "other")[0]
    assert first.sha256 == again.sha256
    assert first.path.read_bytes() == again.path.read_bytes()


def test_nothing_old_means_no_segment(tenant, archive_dir):
    cutoff = Entry.objects.filter(tenant=tenant).order_by("seq").first().created_at
    assert chain_archive(tenant=tenant, before=cutoff, directory=archive_dir) == []
    assert list(archive_dir.iterdir()) == []
    assert not Entry.objects.filter(tenant=tenant, action="history.archived").exists()


def test_future_cutoff_is_refused(tenant, archive_dir):
    with pytest.raises(ServiceError) as err:
        chain_archive(
            tenant=tenant, before=datetime.now(UTC) + timedelta(minutes=1), directory=archive_dir
        )
    assert err.value.code == "invalid_cutoff"


def test_a_broken_chain_is_never_archived(tenant, archive_dir, tamper):
    chain = chain_key(tenant.pk)
    _fill(tenant, 3)
    victim = Entry.objects.filter(chain=chain).order_by("seq")[1]
    tamper("UPDATE history_entry SET data = '{}' WHERE id = %s", [victim.id])
    before = _live_seqs(chain)
    with pytest.raises(ServiceError) as err:
        chain_archive(tenant=tenant, before=datetime.now(UTC), directory=archive_dir)
    assert err.value.code == "chain_broken"
    assert f"entry {victim.seq} was altered" in err.value.message
    assert _live_seqs(chain) == before
    assert list(archive_dir.iterdir()) == []


def test_delete_is_refused_again_after_archiving(tenant, archive_dir):
    _fill(tenant, 2)
    with transaction.atomic():
        chain_archive(tenant=tenant, before=datetime.now(UTC), directory=archive_dir)
        remaining = Entry.objects.filter(tenant=tenant).first()
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM history_entry WHERE id = %s", [remaining.id])


def _rewrite_segment(path, change) -> None:
    rows = [json.loads(line) for line in gzip.open(path, "rt")]
    change(rows)
    with gzip.open(path, "wt") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in rows)


def test_a_modified_archive_file_is_detected(tenant, archive_dir):
    chain = chain_key(tenant.pk)
    _fill(tenant, 3)
    segment = chain_archive(tenant=tenant, before=datetime.now(UTC), directory=archive_dir)[0]
    _rewrite_segment(segment.path, lambda rows: rows[1]["data"].update(i=7))
    report = archive_verify(chain=chain, directory=archive_dir)
    assert not report.ok and "sha256" in report.error

    # Even with the manifest's digest "fixed", the rows' hashes give it away.
    manifest_path, manifest = manifests(directory=archive_dir, chain=chain)[0]
    manifest["sha256"] = file_sha256(segment.path)
    manifest_path.write_text(json.dumps(manifest))
    report = archive_verify(chain=chain, directory=archive_dir)
    assert not report.ok and "entry 2 was altered" in report.error


def test_a_missing_segment_is_detected(tenant, archive_dir):
    chain = chain_key(tenant.pk)
    _fill(tenant, 4)
    segments = chain_archive(
        tenant=tenant, before=datetime.now(UTC), directory=archive_dir, batch_size=2
    )
    assert len(segments) >= 2
    segments[0].path.unlink()
    segments[0].path.with_name(
        segments[0].path.name.replace(".jsonl.gz", ".manifest.json")
    ).unlink()
    report = archive_verify(chain=chain, directory=archive_dir)
    assert not report.ok and "does not follow entry 0" in report.error


def test_archive_all_skips_broken_chains_and_archives_the_rest(make_tenant, archive_dir, tamper):
    good, bad = make_tenant(), make_tenant()
    _fill(good, 2)
    _fill(bad, 2)
    victim = Entry.objects.filter(tenant=bad).order_by("seq").last()
    tamper("UPDATE history_entry SET action = 'x.y' WHERE id = %s", [victim.id])

    segments, refused = archive_all(before=datetime.now(UTC), directory=archive_dir)

    chains = {s.chain for s in segments}
    assert chain_key(good.pk) in chains and chain_key(bad.pk) not in chains
    assert set(refused) == {chain_key(bad.pk)}
    assert archive_verify(chain=chain_key(good.pk), directory=archive_dir).ok
    assert Entry.objects.filter(tenant=bad).count() >= 2
