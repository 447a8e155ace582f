"""The audit log's jobs: sealing recorded entries into their chains every few seconds,
and retention (every day, entries older than HISTORY_RETENTION_DAYS move to archive
files, as ``history archive --older-than`` does), and publishing the chains' heads
outside the database every day (``history anchor``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings

from config.job_registry import job
from history.services import Actor, anchors_publish, archive_all, history_seal

if TYPE_CHECKING:
    from tenancy.models import Tenant


@job("history.archive", every=timedelta(days=1))
def archive_old_entries(*, tenant: Tenant | None, payload: dict) -> None:
    days = int(payload.get("retention_days", settings.HISTORY_RETENTION_DAYS))
    _, refused = archive_all(
        before=datetime.now(UTC) - timedelta(days=days), actor=Actor.system("retention")
    )
    if refused:
        # The other chains were archived; a broken chain is evidence and stays in the
        # table. Failing makes it visible (retried, then dead-lettered: `jobs list`).
        raise RuntimeError("broken chains left unarchived: " + "; ".join(refused.values()))


@job("history.seal", every=timedelta(seconds=2))
def seal_recorded_entries(*, tenant: Tenant | None, payload: dict) -> None:
    # Entries are recorded as plain inserts; this links them into their tenants' hash
    # chains a moment later (see history.services.chain_seal).
    history_seal()


@job("history.anchors", every=timedelta(days=1))
def publish_anchors(*, tenant: Tenant | None, payload: dict) -> None:
    # Each chain's head goes to a file outside the database and to platform staff:
    # the witness that a chain rewritten later (triggers disabled) no longer matches.
    anchors_publish(actor=Actor.system("anchors"))
