"""Chain heads published outside the database ("anchors"), and checking chains against them.

Whoever can rewrite ``history_entry`` with its triggers off (the table's owner, a
superuser) can also recompute every later hash, and the chain then verifies again. What
they cannot rewrite is a head published before: every day ``history.anchors`` appends each
chain's head (chain, tenant, seq, hash, time) as one JSON line to
``<HISTORY_ARCHIVE_DIR>/anchors/<YYYY-MM-DD>.jsonl``. Files are opened for appending only,
never rewritten, and the digest of each publication goes to platform staff on Telegram.
A copy kept off the machine is the witness: ``history verify --anchors DIR`` recomputes
each chain and fails when an entry's hash is not the one an anchor published for it.

The file format and the check live here, as ``archive.py`` holds the segment format.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from history.archive import manifests, segment_rows
from history.models import ChainHead, Entry

ANCHOR_FOLDER = "anchors"
SUFFIX = ".jsonl"


@dataclass(frozen=True)
class Anchor:
    chain: str
    seq: int
    hash: str
    published_at: str
    source: str  # "<file>:<line>", for the report


@dataclass(frozen=True)
class AnchorReport:
    chain: str
    ok: bool
    checked: int  # anchors that matched
    error: str = ""


def anchor_file(*, directory: Path, published_at: datetime) -> Path:
    return Path(directory) / f"{published_at.date().isoformat()}{SUFFIX}"


def anchors_append(
    *, directory: Path, heads: list[dict[str, Any]], published_at: datetime
) -> tuple[Path, str]:
    """Append one line per head to the day's file (created if need be, never truncated)
    and make it durable. Returns the file and the sha256 of the lines written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    at = published_at.isoformat(timespec="microseconds")
    payload = "".join(
        json.dumps({**head, "published_at": at}, sort_keys=True, separators=(",", ":")) + "\n"
        for head in heads
    ).encode()
    path = anchor_file(directory=folder, published_at=published_at)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path, hashlib.sha256(payload).hexdigest()


def anchors_read(*, directory: Path) -> tuple[dict[str, list[Anchor]], list[str]]:
    """Every anchor in ``directory``'s files, per chain in seq order, and the lines that
    are not anchors (a damaged copy is reported, not skipped silently)."""
    found: dict[str, list[Anchor]] = {}
    bad: list[str] = []
    for path in sorted(Path(directory).glob(f"*{SUFFIX}")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            source = f"{path.name}:{number}"
            try:
                item = json.loads(line)
                anchor = Anchor(
                    chain=str(item["chain"]),
                    seq=int(item["seq"]),
                    hash=str(item["hash"]),
                    published_at=str(item["published_at"]),
                    source=source,
                )
            except (ValueError, KeyError, TypeError):
                bad.append(f"{source} is not an anchor")
                continue
            found.setdefault(anchor.chain, []).append(anchor)
    for anchors in found.values():
        anchors.sort(key=lambda anchor: (anchor.seq, anchor.source))
    return found, bad


def _archived_hashes(*, archive_dir: Path, chain: str, seqs: set[int]) -> dict[int, str]:
    """The hashes the chain's archive segments store for ``seqs``."""
    hashes: dict[int, str] = {}
    for manifest_path, manifest in manifests(directory=archive_dir, chain=chain):
        wanted = {s for s in seqs if manifest["first_seq"] <= s <= manifest["last_seq"]}
        if not wanted:
            continue
        for row in segment_rows(manifest_path.parent / manifest["file"]):
            if row["seq"] in wanted:
                hashes[row["seq"]] = row["hash"]
    return hashes


def anchors_check(*, chain: str, anchors: list[Anchor], archive_dir: Path) -> AnchorReport:
    """Compare the hashes the chain holds now with those its anchors published.

    An anchored entry still in the table is compared with its row, one already archived
    with its segment's row (the head's anchor for the last archived one). The rows' own
    hashes are proven by ``chain_verify`` (and ``archive_verify``), which recompute them;
    this proves they are the hashes published back then. Stops at the first discrepancy.
    """
    head = ChainHead.objects.filter(chain=chain).first()
    seqs = {anchor.seq for anchor in anchors}
    known: dict[int, str] = {}
    if head is not None:
        rows = Entry.objects.filter(chain=chain, seq__in=seqs, seq__gt=head.anchor_seq)
        # Only an unsealed entry lacks its seq and hash (the columns allow it); these rows,
        # found by seq, are sealed.
        known.update(
            (seq, hash_)
            for seq, hash_ in rows.values_list("seq", "hash")
            if seq is not None and hash_ is not None
        )
        known[head.anchor_seq] = head.anchor_hash
        archived = {s for s in seqs if s < head.anchor_seq}
        if archived:
            known.update(_archived_hashes(archive_dir=archive_dir, chain=chain, seqs=archived))
    checked = 0
    for anchor in anchors:
        if head is None or anchor.seq > head.seq:
            ends = "has no entries" if head is None else f"ends at entry {head.seq}"
            error = (
                f"the chain {ends}, but {anchor.source} (published {anchor.published_at}) "
                f"names entry {anchor.seq}"
            )
        elif anchor.seq not in known:
            error = (
                f"entry {anchor.seq} ({anchor.source}) is archived and no segment in "
                f"{archive_dir} holds it"
            )
        elif known[anchor.seq] != anchor.hash:
            error = (
                f"entry {anchor.seq} has hash {known[anchor.seq]} but {anchor.source} "
                f"(published {anchor.published_at}) says {anchor.hash}: the chain was rewritten"
            )
        else:
            checked += 1
            continue
        return AnchorReport(chain=chain, ok=False, checked=checked, error=error)
    return AnchorReport(chain=chain, ok=True, checked=checked)
