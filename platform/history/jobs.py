"""The audit log's retention job: every day, entries older than HISTORY_RETENTION_DAYS
move to archive files (``history archive --older-than`` run by the job queue)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings

from botruntime.tasks import job
from history.services import Actor, archive_all


@job("history.archive", every=timedelta(days=1))
def archive_old_entries(*, tenant: Any, payload: dict) -> None:
    days = int(payload.get("retention_days", settings.HISTORY_RETENTION_DAYS))
    _, refused = archive_all(
        before=datetime.now(UTC) - timedelta(days=days), actor=Actor.system("retention")
    )
    if refused:
        # The other chains were archived; a broken chain is evidence and stays in the
        # table. Failing makes it visible (retried, then dead-lettered: `jobs list`).
        raise RuntimeError("broken chains left unarchived: " + "; ".join(refused.values()))
