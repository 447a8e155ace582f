"""The hash chain's arithmetic, shared by writing and verifying."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def chain_key(tenant_id: int | None) -> str:
    return "platform" if tenant_id is None else f"t{tenant_id}"


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
            "ip": ip,
            "user_agent": user_agent,
            "created_at": created_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def link(prev_hash: str, body: str) -> str:
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()
