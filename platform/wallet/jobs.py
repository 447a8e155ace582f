"""The wallet's durable jobs (run by the bot runtime, declared through config.job_registry)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from config.job_registry import job
from wallet.services import stars_reconcile

if TYPE_CHECKING:
    from tenancy.models import Tenant


@job("wallet.stars_reconcile", every=timedelta(days=1), lease=timedelta(minutes=30))
def reconcile_stars(*, tenant: Tenant | None, payload: dict) -> None:
    # A brand owner can refund a Stars payment with their bot's token, outside the
    # platform: each bot's getStarTransactions is matched to the ledger every day.
    stars_reconcile(lookback=timedelta(days=int(payload.get("lookback_days", 30))))
