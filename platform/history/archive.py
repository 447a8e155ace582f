"""The archive file format, shared by archiving (services) and checking (selectors).

One segment of a chain is two files under ``<archive dir>/<chain>/``:

- ``<chain>-<first seq>-<last seq>.jsonl.gz``: one JSON object per entry (ENTRY_FIELDS,
  ``created_at`` as ISO 8601), in seq order, gzip without a timestamp so the same rows
  always give the same bytes;
- the same name with ``.manifest.json``: the chain, the seq range, the hash the first
  entry links to, the last entry's hash and the data file's sha256.

Segments of a chain link end to end: the first starts at seq 1 after GENESIS, each next
one starts after the previous one's last hash, and the last one ends at the chain head's
``anchor_*``, where verification of the live rows resumes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from history.chain import ENTRY_FIELDS, chain_tenant_id

FORMAT = 1
DATA_SUFFIX = ".jsonl.gz"
MANIFEST_SUFFIX = ".manifest.json"


def segment_stem(chain: str, first_seq: int, last_seq: int) -> str:
    return f"{chain}-{first_seq:012d}-{last_seq:012d}"


def _row_out(row: dict[str, Any]) -> dict[str, Any]:
    out = {field: row[field] for field in ENTRY_FIELDS}
    out["created_at"] = row["created_at"].isoformat(timespec="microseconds")
    return out


def _write_atomic(path: Path, payload: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def segment_write(
    *, directory: Path, chain: str, rows: list[dict[str, Any]], extra: dict[str, Any]
) -> tuple[Path, dict[str, Any]]:
    """Write ``rows`` (consecutive entries of ``chain``) as one durable segment and return
    the data file's path and the manifest."""
    folder = Path(directory) / chain
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", filename="", mtime=0) as gz:
        for row in rows:
            line = json.dumps(
                _row_out(row), sort_keys=True, separators=(",", ":"), ensure_ascii=False
            )
            gz.write(line.encode() + b"\n")
    payload = buffer.getvalue()
    stem = segment_stem(chain, rows[0]["seq"], rows[-1]["seq"])
    data_path = folder / (stem + DATA_SUFFIX)
    manifest = {
        "format": FORMAT,
        "chain": chain,
        "tenant_id": rows[0]["tenant_id"],
        "first_seq": rows[0]["seq"],
        "last_seq": rows[-1]["seq"],
        "count": len(rows),
        "prev_hash": rows[0]["prev_hash"],
        "last_hash": rows[-1]["hash"],
        "first_created_at": _row_out(rows[0])["created_at"],
        "last_created_at": _row_out(rows[-1])["created_at"],
        "file": data_path.name,
        "sha256": hashlib.sha256(payload).hexdigest(),
        **extra,
    }
    # Data first, manifest last: a segment without a manifest is an unfinished write.
    _write_atomic(data_path, payload)
    _write_atomic(
        folder / (stem + MANIFEST_SUFFIX),
        json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n",
    )
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return data_path, manifest


def manifests(*, directory: Path, chain: str) -> list[tuple[Path, dict[str, Any]]]:
    """The chain's segment manifests in seq order."""
    folder = Path(directory) / chain
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob(f"{chain}-*{MANIFEST_SUFFIX}"):
        found.append((path, json.loads(path.read_text())))
    return sorted(found, key=lambda item: item[1]["first_seq"])


def archived_chains(*, directory: Path) -> list[str]:
    """The chains with a folder in ``directory`` (other folders, such as ``anchors``, are
    not chains)."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and _is_chain_key(p.name))


def _is_chain_key(name: str) -> bool:
    try:
        chain_tenant_id(name)
    except ValueError:
        return False
    return True


def segment_rows(data_path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a segment data file, ``created_at`` parsed back to a datetime."""
    with gzip.open(data_path, "rt", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            row["created_at"] = datetime.fromisoformat(row["created_at"])
            yield row


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
