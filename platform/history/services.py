"""Writing the audit log. ``record`` is the only way rows get in; ``chain_archive`` is
the only way they leave; ``anchors_publish`` puts the chains' heads outside the database."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from psycopg2.extras import execute_values

from config.errors import ServiceError
from config.prepared import fetch_prepared
from history.anchors import ANCHOR_FOLDER, anchors_append
from history.archive import segment_write
from history.chain import (
    CONTENT_FIELDS,
    ENTRY_FIELDS,
    GENESIS,
    chain_key,
    chain_tenant_id,
    ip_normalize,
    json_normalize,
    row_hash,
    rows_check,
    tenant_id_of,
    text_normalize,
)
from history.models import ChainHead, Entry
from history.signals import anchors_published

if TYPE_CHECKING:
    from accounts.models import TelegramUser
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    type: str
    id: str

    @classmethod
    def user(cls, user: TelegramUser | int) -> Actor:
        return cls("user", str(getattr(user, "telegram_id", user)))

    @classmethod
    def bot(cls, bot_id: int | str) -> Actor:
        return cls("bot", str(bot_id))

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls("system", name)


SYSTEM = Actor.system()

# "noun.verb" (or deeper): what filters and dashboards group by.
ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_LIMITS = {"actor_id": 64, "action": 100, "target_type": 50, "target_id": 64}
_ACTOR_TYPES = frozenset(Entry.ActorType.values)  # `.values` builds a list on every read

# A prepared statement (config.prepared): parsing and planning it cost as much as running
# it. The table is shared (public), named so whatever the search_path.
_INSERT = """
INSERT INTO public.history_entry (tenant_id, chain, actor_type, actor_id, action,
                                  target_type, target_id, data, ip, user_agent, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11)
RETURNING id
"""
_INSERT_TYPES = (
    "bigint", "varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "text",
    "inet", "varchar", "timestamptz",
)  # fmt: skip

_NEW_HEAD = """
INSERT INTO history_chainhead (chain, seq, prev_hash, last_hash, anchor_seq, anchor_hash)
VALUES (%s, 0, %s, %s, 0, %s) ON CONFLICT (chain) DO NOTHING
"""

_SEAL = """
UPDATE history_entry AS e
   SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
  FROM (VALUES %s) AS v (id, seq, prev_hash, hash)
 WHERE e.id = v.id AND e.seq IS NULL
"""


def _client_ip(request: Any) -> str | None:
    if request is None:
        return None
    return ip_normalize(request.META.get("REMOTE_ADDR"))


def record(
    *,
    action: str,
    actor: Actor = SYSTEM,
    tenant: Tenant | int | None = None,
    target: tuple[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    request: Any = None,
) -> int:
    """Append one audit entry in the caller's transaction and return its id.

    ``tenant`` is a Tenant (or its id), None for platform-level events. The public
    tenant's events are platform-level too. The entry is a plain insert: it is linked
    into its tenant's hash chain by ``chain_seal`` once committed, so concurrent business
    transactions of one tenant never queue on a chain lock.
    """
    params = record_values(
        action=action, actor=actor, tenant=tenant, target=target, data=data, request=request
    )
    (entry_id,) = fetch_prepared("history_record", _INSERT, _INSERT_TYPES, params)
    return entry_id


# What ``record_values`` returns, in order, with the PostgreSQL type of each.
RECORD_COLUMNS = (
    "tenant_id", "chain", "actor_type", "actor_id", "action", "target_type", "target_id",
    "data", "ip", "user_agent", "created_at",
)  # fmt: skip
RECORD_TYPES = _INSERT_TYPES


def record_values(
    *,
    action: str,
    actor: Actor = SYSTEM,
    tenant: Tenant | int | None = None,
    target: tuple[str, Any] | None = None,
    data: dict[str, Any] | None = None,
    request: Any = None,
) -> tuple[Any, ...]:
    """The checked, normalised values of the entry ``record`` would insert (columns
    ``RECORD_COLUMNS``), for a service that inserts its audit entry in the same statement
    as its own write (``wallet.services.ledger``: one round trip per transfer)."""
    if actor.type not in _ACTOR_TYPES:
        raise ValueError(f"unknown actor type {actor.type!r}")
    if not ACTION.match(action):
        raise ValueError(f"history action {action!r} must look like 'noun.verb'")
    tenant_id = tenant_id_of(tenant)
    target_type, target_id = (target[0], str(target[1])) if target else ("", "")
    user_agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    fields = {
        "tenant_id": tenant_id,
        "actor_type": actor.type,
        "actor_id": text_normalize(actor.id),
        "action": action,
        "target_type": text_normalize(target_type),
        "target_id": text_normalize(target_id),
        # Normalised so the hashed form is exactly what jsonb gives back.
        "data": json_normalize(data),
        "ip": _client_ip(request),
        "user_agent": text_normalize(user_agent)[:300],
        "created_at": datetime.now(UTC),
    }
    for name, limit in _LIMITS.items():
        if len(fields[name]) > limit:
            raise ValueError(f"history {name} is longer than {limit} characters")
    return (
        tenant_id,
        chain_key(tenant_id),
        fields["actor_type"],
        fields["actor_id"],
        action,
        fields["target_type"],
        fields["target_id"],
        json.dumps(fields["data"]),
        fields["ip"],
        fields["user_agent"],
        fields["created_at"],
    )


def chain_seal(*, chain: str, limit: int = 20_000) -> int:
    """Link the chain's committed, unsealed entries (in id order) after its head: each
    gets the next seq, its predecessor's hash and sha256(prev_hash + canonical row).
    The head row is locked for the duration, so sealers of one chain take turns.
    Returns how many entries were sealed."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_NEW_HEAD, [chain, GENESIS, GENESIS, GENESIS])
        head = ChainHead.objects.select_for_update().get(chain=chain)
        rows = list(
            Entry.objects.filter(chain=chain, seq__isnull=True)
            .order_by("id")
            .values("id", *CONTENT_FIELDS)[:limit]
        )
        if not rows:
            return 0
        seq, prev, sealed = head.seq, head.last_hash, []
        for row in rows:
            seq, digest = seq + 1, row_hash(row, prev)
            sealed.append((row["id"], seq, prev, digest))
            prev = digest
        with connection.cursor() as cursor:
            execute_values(cursor, _SEAL, sealed, page_size=1000)
        ChainHead.objects.filter(pk=head.pk).update(
            seq=seq, prev_hash=sealed[-1][2], last_hash=prev
        )
    return len(sealed)


def history_seal(*, limit_per_chain: int = 20_000) -> int:
    """Seal every chain that has unsealed entries (the recurring ``history.seal`` job,
    and before verifying or archiving)."""
    chains = (
        Entry.objects.filter(seq__isnull=True).order_by().values_list("chain", flat=True)
    ).distinct()
    return sum(chain_seal(chain=chain, limit=limit_per_chain) for chain in list(chains))


# --- Retention: archive old entries to files, then remove them from the table ---------


@dataclass(frozen=True)
class ArchivedSegment:
    chain: str
    first_seq: int
    last_seq: int
    count: int
    path: Path
    sha256: str


def archive_directory() -> Path:
    return Path(settings.HISTORY_ARCHIVE_DIR)


def chain_archive(
    *,
    tenant: Tenant | int | None,
    before: datetime,
    directory: Path | None = None,
    batch_size: int = 10_000,
    actor: Actor = SYSTEM,
) -> list[ArchivedSegment]:
    """Move the chain's entries created before ``before`` into archive segments.

    Only a prefix of the chain leaves: it stops at the first entry created at or after
    ``before``. Each batch is one transaction that locks the chain head, checks every
    row it moves (a broken chain is never archived: that would destroy the evidence),
    writes the segment durably, deletes the rows, moves the head's anchor to the last
    archived entry and records ``history.archived`` (with the file's digest) in the same
    chain. ``tenant`` is a Tenant, its id, or None for the platform chain.
    """
    if before > datetime.now(UTC):
        raise ServiceError("entries from the future cannot be archived", code="invalid_cutoff")
    if batch_size < 1:
        raise ServiceError("batch size must be positive", code="invalid")
    tenant_id = tenant_id_of(tenant)
    chain = chain_key(tenant_id)
    directory = Path(directory) if directory is not None else archive_directory()
    while chain_seal(chain=chain):  # archive what is recorded so far, sealed
        pass
    segments: list[ArchivedSegment] = []
    while True:
        segment = _archive_batch(
            chain=chain,
            tenant_id=tenant_id,
            before=before,
            directory=directory,
            batch_size=batch_size,
            actor=actor,
        )
        if segment is None:
            return segments
        segments.append(segment)


def _archive_batch(
    *,
    chain: str,
    tenant_id: int | None,
    before: datetime,
    directory: Path,
    batch_size: int,
    actor: Actor,
) -> ArchivedSegment | None:
    with transaction.atomic():
        head = ChainHead.objects.select_for_update().filter(chain=chain).first()
        if head is None:
            return None
        live = Entry.objects.filter(chain=chain, seq__gt=head.anchor_seq)
        first_kept = live.filter(created_at__gte=before).aggregate(seq=Min("seq"))["seq"]
        last = head.seq if first_kept is None else first_kept - 1
        last = min(last, head.anchor_seq + batch_size)
        if last <= head.anchor_seq:
            return None
        rows = list(live.filter(seq__lte=last).order_by("seq").values(*ENTRY_FIELDS))
        seq, last_hash, checked, error = rows_check(
            rows, chain=chain, after_seq=head.anchor_seq, after_hash=head.anchor_hash
        )
        if error or seq != last:
            error = error or f"entries {seq + 1}..{last} are missing"
            logger.error("history.archive_refused", extra={"chain": chain, "error": error})
            raise ServiceError(
                f"chain {chain} is broken, not archiving: {error}", code="chain_broken", status=409
            )
        path, manifest = segment_write(
            directory=directory,
            chain=chain,
            rows=rows,
            extra={"archived_at": datetime.now(UTC).isoformat(), "before": before.isoformat()},
        )
        with connection.cursor() as cursor:
            # The only way rows leave (migration 0004): it deletes the prefix up to
            # ``last`` and moves the head's anchor to it, or raises.
            cursor.execute(
                "SELECT public.history_archive_delete(%s, %s, %s)", [chain, last, last_hash]
            )
            deleted = cursor.fetchone()[0]
        if deleted != checked:
            raise ServiceError(
                f"chain {chain} changed while archiving", code="conflict", status=409
            )
        record(
            action="history.archived",
            actor=actor,
            tenant=tenant_id,
            target=("chain", chain),
            data={
                "first_seq": manifest["first_seq"],
                "last_seq": last,
                "count": checked,
                "last_hash": last_hash,
                "file": manifest["file"],
                "sha256": manifest["sha256"],
            },
        )
    logger.info(
        "history.archived",
        extra={
            "chain": chain,
            "first_seq": manifest["first_seq"],
            "last_seq": last,
            "count": checked,
        },
    )
    return ArchivedSegment(
        chain=chain,
        first_seq=manifest["first_seq"],
        last_seq=last,
        count=checked,
        path=path,
        sha256=manifest["sha256"],
    )


def archive_all(
    *,
    before: datetime,
    directory: Path | None = None,
    batch_size: int = 10_000,
    actor: Actor = SYSTEM,
) -> tuple[list[ArchivedSegment], dict[str, str]]:
    """``chain_archive`` for every chain (the platform's and each tenant's, deleted ones
    included). A broken chain is left as it is and returned with its error in the second
    element; the other chains are still archived."""
    segments: list[ArchivedSegment] = []
    refused: dict[str, str] = {}
    for chain in ChainHead.objects.order_by("chain").values_list("chain", flat=True):
        try:
            segments += chain_archive(
                tenant=chain_tenant_id(chain),
                before=before,
                directory=directory,
                batch_size=batch_size,
                actor=actor,
            )
        except ServiceError as exc:
            if exc.code != "chain_broken":
                raise
            refused[chain] = exc.message
    return segments, refused


# --- Anchors: the chains' heads, published outside the database every day -------------


@dataclass(frozen=True)
class AnchorPublication:
    path: Path
    count: int
    sha256: str  # of the lines this publication appended
    announced: int  # staff messages queued


def anchors_publish(*, directory: Path | None = None, actor: Actor = SYSTEM) -> AnchorPublication:
    """Seal what is recorded, then append every chain's head to today's anchor file
    (``<HISTORY_ARCHIVE_DIR>/anchors/``, see ``history.anchors``), record
    ``history.anchored`` in the platform chain and send the publication's digest to
    platform staff. Running it twice appends the heads twice: harmless, anchors of one
    chain never disagree unless the chain was rewritten."""
    history_seal()
    directory = Path(directory) if directory is not None else archive_directory() / ANCHOR_FOLDER
    heads = [
        {"chain": chain, "tenant_id": chain_tenant_id(chain), "seq": seq, "hash": last_hash}
        for chain, seq, last_hash in ChainHead.objects.filter(seq__gt=0)
        .order_by("chain")
        .values_list("chain", "seq", "last_hash")
    ]
    published_at = datetime.now(UTC)
    path, digest = anchors_append(directory=directory, heads=heads, published_at=published_at)
    with transaction.atomic():
        record(
            action="history.anchored",
            actor=actor,
            target=("anchors", path.name),
            data={"file": path.name, "chains": len(heads), "sha256": digest},
        )
        announced = _anchors_announce(
            file=path.name, count=len(heads), digest=digest, published_at=published_at
        )
    logger.info(
        "history.anchored",
        extra={"file": str(path), "chains": len(heads), "sha256": digest, "announced": announced},
    )
    return AnchorPublication(path=path, count=len(heads), sha256=digest, announced=announced)


def _anchors_announce(*, file: str, count: int, digest: str, published_at: datetime) -> int:
    """Tell whoever listens (``history.signals.anchors_published``: notifications queues
    the digest to every platform staff user through the platform bot) and return how
    many messages were queued: a witness of the anchor lines outside the machine's reach."""
    # A receiver may return anything (Django's stubs say str | None): an int counts.
    replies: Sequence[tuple[object, object]] = anchors_published.send(
        sender=ChainHead, file=file, count=count, digest=digest, published_at=published_at
    )
    queued = sum(reply for _, reply in replies if isinstance(reply, int))
    if not queued:
        logger.warning(
            "history.anchors_unannounced",
            extra={"file": file, "sha256": digest},
        )
    return queued
