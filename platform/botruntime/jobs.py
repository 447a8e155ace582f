"""The bot runtime's own recurring jobs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from botruntime.services import updates_prune
from botruntime.tasks import job

# Telegram keeps an undelivered update for 24 hours; twice that and it cannot come back.
PROCESSED_UPDATES_KEEP = timedelta(hours=48)


@job("botruntime.updates_prune", every=timedelta(hours=1))
def prune_processed_updates(*, tenant: Any, payload: dict) -> None:
    updates_prune(older_than=PROCESSED_UPDATES_KEEP)
