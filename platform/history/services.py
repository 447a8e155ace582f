"""Writing the audit log. ``record`` is the only way rows get in."""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from history.chain import GENESIS, canonical, chain_key


@dataclass(frozen=True)
class Actor:
    type: str
    id: str

    @classmethod
    def user(cls, user: Any) -> Actor:
        return cls("user", str(getattr(user, "telegram_id", user)))

    @classmethod
    def bot(cls, bot_id: int | str) -> Actor:
        return cls("bot", str(bot_id))

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", name)


SYSTEM = Actor.system()

_APPEND = """
WITH head AS (
    UPDATE history_chainhead
       SET seq = seq + 1,
           prev_hash = last_hash,
           last_hash = encode(sha256(convert_to(last_hash || %(body)s, 'UTF8')), 'hex')
     WHERE chain = %(chain)s
 RETURNING seq, prev_hash, last_hash
)
INSERT INTO history_entry (tenant_id, chain, seq, actor_type, actor_id, action, target_type,
                           target_id, data, ip, user_agent, created_at, prev_hash, hash)
SELECT %(tenant)s, %(chain)s, head.seq, %(actor_type)s, %(actor_id)s, %(action)s,
       %(target_type)s, %(target_id)s, %(data)s::jsonb, %(ip)s, %(user_agent)s,
       %(created_at)s, head.prev_hash, head.last_hash
  FROM head
RETURNING id
"""

_NEW_HEAD = """
INSERT INTO history_chainhead (chain, seq, prev_hash, last_hash, anchor_seq, anchor_hash)
VALUES (%s, 0, %s, %s, 0, %s) ON CONFLICT (chain) DO NOTHING
"""


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
    raw = request.META.get("REMOTE_ADDR")
    try:
        return str(ipaddress.ip_address(raw)) if raw else None
    except ValueError:
        return None


def record(
    *,
    action: str,
    actor: Actor = SYSTEM,
    tenant: Any = None,
    target: tuple[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    request: Any = None,
) -> int:
    """Append one audit entry in the caller's transaction and return its id.

    ``tenant`` is a Tenant (or its id), None for platform-level events. The public
    tenant's events are platform-level too.
    """
    tenant_id = getattr(tenant, "pk", tenant)
    if tenant is not None and getattr(tenant, "schema_name", None) == "public":
        tenant_id = None
    # Round-trip through JSON so the hashed form is exactly what jsonb gives back.
    payload = json.loads(json.dumps(data or {}, default=str))
    target_type, target_id = (target[0], str(target[1])) if target else ("", "")
    fields = {
        "tenant_id": tenant_id,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "data": payload,
        "ip": _client_ip(request),
        "user_agent": (request.META.get("HTTP_USER_AGENT", "")[:300] if request else ""),
        "created_at": datetime.now(UTC),
    }
    body = canonical(**fields)
    chain = chain_key(tenant_id)
    params = {
        **fields,
        "tenant": tenant_id,
        "chain": chain,
        "body": body,
        "data": json.dumps(payload),
    }
    with connection.cursor() as cursor:
        cursor.execute(_APPEND, params)
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_NEW_HEAD, [chain, GENESIS, GENESIS, GENESIS])
            cursor.execute(_APPEND, params)
            row = cursor.fetchone()
    return row[0]
