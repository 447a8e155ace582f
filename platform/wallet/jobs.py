"""The wallet's durable jobs (run by the bot runtime, declared through config.job_registry):
each withdrawal's payout, sent outside any HTTP request, and the daily Stars
reconciliation."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from config.job_registry import job
from wallet.services import stars_reconcile
from wallet.services.withdrawals import PAYOUT_JOB, withdrawal_payout_send

if TYPE_CHECKING:
    from tenancy.models import Tenant


@job(PAYOUT_JOB, max_attempts=10, lease=timedelta(minutes=2))
def withdrawal_payout(*, tenant: Tenant | None, payload: dict[str, Any]) -> None:
    # Run again after a crash, it asks under the same key: the provider answers with the
    # payout it already made, never a second one.
    withdrawal_payout_send(withdrawal_id=int(payload["withdrawal_id"]))


@job("wallet.stars_reconcile", every=timedelta(days=1), lease=timedelta(minutes=30))
def reconcile_stars(*, tenant: Tenant | None, payload: dict) -> None:
    # A brand owner can refund a Stars payment with their bot's token, outside the
    # platform: each bot's getStarTransactions is matched to the ledger every day.
    stars_reconcile(lookback=timedelta(days=int(payload.get("lookback_days", 30))))
