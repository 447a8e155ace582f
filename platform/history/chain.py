"""The hash chain's arithmetic, shared by writing, verifying and archiving.

An entry's hash is ``sha256(prev_hash + canonical(entry))``. Everything that goes into
``canonical`` is normalised first so that the value hashed at write time equals the value
PostgreSQL gives back later (jsonb renders numbers as ``numeric``, inet renders IPv6 its
own way), and so that the rows stay verifiable with another Python version.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tenancy.models import Tenant

GENESIS = "0" * 64
PLATFORM_CHAIN = "platform"

# The columns that make up an entry, in the order archives store them.
ENTRY_FIELDS = (
    "tenant_id",
    "chain",
    "seq",
    "actor_type",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "data",
    "ip",
    "user_agent",
    "created_at",
    "prev_hash",
    "hash",
)

# The columns an entry's hash covers (with the previous entry's hash): every column but
# its place in the chain and the hashes themselves, so a column added to entries is
# covered unless it is named here.
CHAIN_FIELDS = ("chain", "seq", "prev_hash", "hash")
CONTENT_FIELDS = tuple(name for name in ENTRY_FIELDS if name not in CHAIN_FIELDS)


def tenant_id_of(tenant: Tenant | int | None) -> int | None:
    """A Tenant, its id or None, as the id entries carry: the public tenant's entries
    are platform-level (None)."""
    if tenant is None or getattr(tenant, "schema_name", None) == "public":
        return None
    return getattr(tenant, "pk", tenant)


def chain_key(tenant_id: int | None) -> str:
    return PLATFORM_CHAIN if tenant_id is None else f"t{tenant_id}"


def chain_tenant_id(chain: str) -> int | None:
    """The inverse of ``chain_key``."""
    if chain == PLATFORM_CHAIN:
        return None
    if chain.startswith("t") and chain[1:].isdigit():
        return int(chain[1:])
    raise ValueError(f"not a history chain key: {chain!r}")


def _plain_text(value: str) -> bool:
    """ASCII without NUL: stored and read back unchanged (``isascii`` is a flag check)."""
    return value.isascii() and "\x00" not in value


def text_normalize(value: str) -> str:
    """PostgreSQL text holds neither NUL nor lone surrogates; drop/replace them."""
    if _plain_text(value):
        return value
    return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {text_normalize(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if isinstance(value, str):
        return text_normalize(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)  # jsonb has no NaN/Infinity
        if value == 0:
            return 0.0  # numeric has no negative zero
        text = repr(value)
        if "e+" in text:
            # numeric prints 1e+20 as 100000000000000000000, which reads back as an int.
            return int(Decimal(text))
        return value
    return value


def _plain_scalar(value: Any) -> bool:
    kind = type(value)
    return value is None or kind is int or kind is bool or (kind is str and _plain_text(value))


def json_normalize(data: Any) -> Any:
    """``data`` as plain JSON types, in exactly the form jsonb returns it."""
    if type(data) is dict and all(
        type(key) is str and _plain_text(key) and _plain_scalar(value)
        for key, value in data.items()
    ):
        # The common case (a flat dict of ids, amounts and ASCII words) needs no round
        # trip: jsonb gives it back as it is.
        return dict(data)
    plain = json.loads(json.dumps(data if data is not None else {}, default=str))
    return _json_value(plain)


def ip_normalize(ip: str | None) -> str | None:
    """One spelling per address (full hex for IPv6), whatever Python or PostgreSQL
    printed; None when ``ip`` is empty or not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return None
    return address.exploded if address.version == 6 else str(address)


def canonical(
    *,
    tenant_id: int | None,
    actor_type: str,
    actor_id: str,
    action: str,
    target_type: str,
    target_id: str,
    data: Any,
    ip: str | None,
    user_agent: str,
    created_at: datetime,
) -> str:
    """The row's content as canonical JSON: sorted keys, no spaces, UTC timestamp."""
    return json.dumps(
        {
            "tenant": tenant_id,
            "actor_type": actor_type,
            "actor_id": actor_id,
            "action": action,
            "target_type": target_type,
            "target_id": target_id,
            "data": data,
            "ip": ip_normalize(ip),
            "user_agent": user_agent,
            "created_at": created_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def row_hash(row: dict[str, Any], prev_hash: str) -> str:
    """The hash a stored row (a dict with ``ENTRY_FIELDS``) should carry after ``prev_hash``."""
    return link(
        prev_hash,
        canonical(
            tenant_id=row["tenant_id"],
            actor_type=row["actor_type"],
            actor_id=row["actor_id"],
            action=row["action"],
            target_type=row["target_type"],
            target_id=row["target_id"],
            data=row["data"],
            ip=row["ip"],
            user_agent=row["user_agent"],
            created_at=row["created_at"],
        ),
    )


def rows_check(
    rows: Any, *, chain: str, after_seq: int, after_hash: str
) -> tuple[int, str, int, str]:
    """Walk ``rows`` (in seq order) from the link (after_seq, after_hash).

    Returns (last seq, last hash, rows checked, error); ``error`` is "" when every row
    follows its predecessor and carries the hash of its own content, else it names the
    first row that does not (and the walk stops there).
    """
    seq, prev, checked = after_seq, after_hash, 0
    for row in rows:
        if row["seq"] != seq + 1:
            missing = f"{seq + 1}" if row["seq"] == seq + 2 else f"{seq + 1}..{row['seq'] - 1}"
            return seq, prev, checked, f"entries {missing} are missing (next is {row['seq']})"
        if row["chain"] != chain or chain_key(row["tenant_id"]) != chain:
            return seq, prev, checked, f"entry {row['seq']} belongs to another chain"
        if row["prev_hash"] != prev:
            return seq, prev, checked, f"entry {row['seq']} does not link to entry {seq}"
        if row_hash(row, prev) != row["hash"]:
            return seq, prev, checked, f"entry {row['seq']} was altered (hash mismatch)"
        seq, prev, checked = row["seq"], row["hash"], checked + 1
    return seq, prev, checked, ""
