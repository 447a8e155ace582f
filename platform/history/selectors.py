"""Reads of the audit log, always scoped to one tenant (None: platform entries), and
the checks that prove a chain (live rows and archive segments) is intact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet

from history.archive import archived_chains, file_sha256, manifests, segment_rows
from history.chain import ENTRY_FIELDS, GENESIS, chain_key, rows_check, tenant_id_of
from history.models import ChainHead, Entry

if TYPE_CHECKING:
    from tenancy.models import Tenant


def entry_list(
    *,
    tenant: Tenant | int | None,
    actor_type: str | None = None,
    actor_id: str | None = None,
    action: str | None = None,
    action_prefix: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Entry]:
    """Newest first. ``action`` matches exactly; ``action_prefix`` matches whole dotted
    segments ("raid" matches "raid.created", not "raids.x")."""
    tenant_id = tenant_id_of(tenant)
    qs = (
        Entry.objects.filter(tenant_id=tenant_id)
        if tenant_id is not None
        else (Entry.objects.filter(tenant_id__isnull=True))
    )
    if actor_type:
        qs = qs.filter(actor_type=actor_type)
    if actor_id:
        qs = qs.filter(actor_id=actor_id)
    if action:
        qs = qs.filter(action=action)
    if action_prefix:
        qs = qs.filter(action__startswith=action_prefix.rstrip(".") + ".")
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    if since:
        qs = qs.filter(created_at__gte=since)
    if until:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by("-id")


# Entry data shown to platform staff only: a dead job's error is a traceback (file
# paths, SQL, library internals) that helps whoever runs the platform and tells a
# tenant's admins nothing they can act on, or more about the platform than they should.
STAFF_ONLY_DATA = {"job.dead": ("error",)}


def entry_data_shown(entry: Entry, *, staff: bool) -> dict[str, Any]:
    """``entry.data`` as the reader may see it (the stored row, and its hash, unchanged)."""
    hidden = () if staff else STAFF_ONLY_DATA.get(entry.action, ())
    if not any(key in entry.data for key in hidden):
        return entry.data
    return {key: value for key, value in entry.data.items() if key not in hidden}


def chain_head(*, tenant: Tenant | int | None) -> ChainHead | None:
    """The chain's tip: publishing (seq, last_hash) somewhere else lets anyone prove
    later that nothing up to that point was rewritten."""
    return ChainHead.objects.filter(chain=chain_key(tenant_id_of(tenant))).first()


@dataclass(frozen=True)
class ChainReport:
    chain: str
    ok: bool
    checked: int  # rows (or archived rows) checked
    first_seq: int  # first seq checked
    last_seq: int  # last seq known good
    last_hash: str
    error: str = ""
    pending: int = 0  # recorded entries not sealed into the chain yet


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view of head and rows while appends and archiving go on. Inside
    a caller's transaction we use that transaction as it is."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def chain_verify(*, chain: str) -> ChainReport:
    """Check the live part of one chain: every entry after the head's anchor links to its
    predecessor, carries the hash of its own content, and the last one is the head."""
    with _snapshot():
        head = ChainHead.objects.filter(chain=chain).first()
        pending = Entry.objects.filter(chain=chain, seq__isnull=True).count()
        rows = (
            Entry.objects.filter(chain=chain, seq__isnull=False)
            .order_by("seq")
            .values(*ENTRY_FIELDS)
        )
        if head is None:
            exists = rows.exists()
            return ChainReport(
                chain=chain,
                ok=not exists,
                checked=0,
                first_seq=0,
                last_seq=0,
                last_hash=GENESIS,
                error="entries without a chain head" if exists else "",
                pending=pending,
            )
        if rows.filter(seq__lte=head.anchor_seq).exists():
            return ChainReport(
                chain=chain,
                ok=False,
                checked=0,
                first_seq=head.anchor_seq + 1,
                last_seq=head.anchor_seq,
                last_hash=head.anchor_hash,
                error="entries at or before the archive anchor are still live",
                pending=pending,
            )
        seq, last_hash, checked, error = rows_check(
            rows.filter(seq__gt=head.anchor_seq).iterator(chunk_size=2000),
            chain=chain,
            after_seq=head.anchor_seq,
            after_hash=head.anchor_hash,
        )
        if not error and (seq, last_hash) != (head.seq, head.last_hash):
            error = (
                f"the head says entry {head.seq} but the last entry is {seq}"
                if seq != head.seq
                else f"entry {seq} is not the head's hash"
            )
    return ChainReport(
        chain=chain,
        ok=not error,
        checked=checked,
        first_seq=head.anchor_seq + 1,
        last_seq=seq,
        last_hash=last_hash,
        error=error,
        pending=pending,
    )


def tenant_chain_verify(*, tenant: Tenant | int | None) -> ChainReport:
    return chain_verify(chain=chain_key(tenant_id_of(tenant)))


def chain_keys() -> list[str]:
    """Every chain: the platform's and each tenant's (deleted ones too), including chains
    whose entries are not sealed yet."""
    heads = set(ChainHead.objects.values_list("chain", flat=True))
    unsealed = Entry.objects.filter(seq__isnull=True).order_by().values_list("chain", flat=True)
    return sorted(heads | set(unsealed.distinct()))


def archive_verify(*, chain: str, directory: Path | None = None) -> ChainReport:
    """Check a chain's archive segments: each file matches its manifest's digest, its
    rows link and hash correctly, segments follow each other from GENESIS without gaps,
    and the last one ends where the live chain's anchor says it does."""
    directory = Path(directory) if directory is not None else Path(settings.HISTORY_ARCHIVE_DIR)
    seq, last_hash, checked, error = 0, GENESIS, 0, ""
    for manifest_path, manifest in manifests(directory=directory, chain=chain):
        data_path = manifest_path.parent / manifest["file"]
        name = data_path.name
        if manifest["first_seq"] != seq + 1 or manifest["prev_hash"] != last_hash:
            error = f"{name} does not follow entry {seq}"
        elif not data_path.exists():
            error = f"{name} is missing"
        elif file_sha256(data_path) != manifest["sha256"]:
            error = f"{name} does not match its manifest's sha256"
        else:
            seq, last_hash, count, error = rows_check(
                segment_rows(data_path), chain=chain, after_seq=seq, after_hash=last_hash
            )
            checked += count
            if error:
                error = f"{name}: {error}"
            elif (seq, last_hash) != (manifest["last_seq"], manifest["last_hash"]):
                error = f"{name} does not end where its manifest says"
        if error:
            break
    if not error:
        head = ChainHead.objects.filter(chain=chain).first()
        anchor = (head.anchor_seq, head.anchor_hash) if head else (0, GENESIS)
        if (seq, last_hash) != anchor:
            error = f"the archive ends at entry {seq} but the chain's anchor is entry {anchor[0]}"
    return ChainReport(
        chain=chain,
        ok=not error,
        checked=checked,
        first_seq=1,
        last_seq=seq,
        last_hash=last_hash,
        error=error,
    )


def archive_chain_keys(*, directory: Path | None = None) -> list[str]:
    return archived_chains(
        directory=Path(directory) if directory is not None else Path(settings.HISTORY_ARCHIVE_DIR)
    )
