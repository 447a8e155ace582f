from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from history.chain import chain_key
from history.models import ChainHead, Entry
from history.services import history_seal, record
from tenancy.services import tenant_delete


def _run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_verify_prints_each_chain_and_its_head(tenant):
    record(action="thing.done", tenant=tenant)
    record(action="platform.noticed")
    history_seal()
    head = ChainHead.objects.get(chain=chain_key(tenant.pk))
    out = _run("history", "verify", "--tenant", tenant.slug)
    assert out.strip() == (
        f"{head.chain} live: ok, {head.seq} entries checked, ends at {head.seq} {head.last_hash}"
    )
    everything = _run("history", "verify")
    assert f"{head.chain} live: ok" in everything and "platform live: ok" in everything


def test_verify_fails_with_exit_1_on_a_broken_chain(tenant, tamper):
    record(action="thing.done", tenant=tenant, data={"n": 1})
    history_seal()
    entry = Entry.objects.filter(tenant=tenant).order_by("seq").last()
    tamper("UPDATE history_entry SET data = '{\"n\": 2}' WHERE id = %s", [entry.id])
    out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command("history", "verify", "--tenant", tenant.slug, stdout=out)
    assert err.value.returncode == 1
    assert f"BROKEN: entry {entry.seq} was altered" in out.getvalue()


def test_verify_unknown_tenant(db):
    with pytest.raises(CommandError, match="no tenant") as err:
        call_command("history", "verify", "--tenant", "nope")
    assert err.value.returncode == 2


def test_verify_finds_a_deleted_tenants_chain(tenant):
    # A deleted tenant keeps its row as the subject of its audit trail.
    record(action="thing.done", tenant=tenant)
    tenant_delete(tenant=tenant, confirm=tenant.slug)
    out = _run("history", "verify", "--tenant", tenant.slug)
    assert out.startswith(f"{chain_key(tenant.pk)} live: ok")


def test_archive_then_verify_archives(tenant, archive_dir):
    for n in range(3):
        record(action="thing.done", tenant=tenant, data={"n": n})
    cutoff = datetime.now(UTC)
    out = _run(
        "history",
        "archive",
        "--before",
        cutoff.isoformat(),
        "--tenant",
        tenant.slug,
        "--archive-dir",
        str(archive_dir),
    )
    chain = chain_key(tenant.pk)
    assert out.startswith(f"{chain}: entries 1..")
    assert "archived " in out and "in 1 segment(s)" in out
    assert not Entry.objects.filter(chain=chain, created_at__lt=cutoff).exists()

    verified = _run(
        "history",
        "verify",
        "--tenant",
        tenant.slug,
        "--archives",
        "--archive-dir",
        str(archive_dir),
    )
    assert f"{chain} archive: ok" in verified and f"{chain} live: ok" in verified


def test_archive_with_retention_days_keeps_recent_entries(tenant, archive_dir):
    before = Entry.objects.filter(tenant=tenant).count()
    out = _run("history", "archive", "--older-than", "30d", "--archive-dir", str(archive_dir))
    assert "archived 0 entries in 0 segment(s)" in out
    assert Entry.objects.filter(tenant=tenant).count() == before


def test_archive_reports_broken_chains_with_exit_1(tenant, archive_dir, tamper):
    history_seal()
    entry = Entry.objects.filter(tenant=tenant).order_by("seq").first()
    tamper("UPDATE history_entry SET action = 'x.y' WHERE id = %s", [entry.id])
    err_out = StringIO()
    with pytest.raises(CommandError) as err:
        call_command(
            "history",
            "archive",
            "--before",
            datetime.now(UTC).isoformat(),
            "--archive-dir",
            str(archive_dir),
            stdout=StringIO(),
            stderr=err_out,
        )
    assert err.value.returncode == 1
    assert f"chain {chain_key(tenant.pk)} is broken" in err_out.getvalue()
    assert Entry.objects.filter(id=entry.id).exists()


def test_archive_needs_a_cutoff_and_a_valid_duration(db):
    with pytest.raises(CommandError):
        call_command("history", "archive", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="not a duration"):
        call_command(
            "history", "archive", "--older-than", "ninety", stdout=StringIO(), stderr=StringIO()
        )


def test_seal_links_pending_entries_and_verify_reports_them(tenant):
    record(action="thing.done", tenant=tenant)
    out = _run("history", "verify", "--tenant", tenant.slug, "--no-seal")
    assert "pending seal" in out
    assert _run("history", "seal").startswith("sealed ")
    assert "pending seal" not in _run("history", "verify", "--tenant", tenant.slug, "--no-seal")
