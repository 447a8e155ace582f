"""The wallet's durable jobs: each withdrawal's payout, sent outside any HTTP request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from config.job_registry import job
from wallet.services.withdrawals import PAYOUT_JOB, withdrawal_payout_send


@job(PAYOUT_JOB, max_attempts=10, lease=timedelta(minutes=2))
def withdrawal_payout(*, tenant: Any, payload: dict[str, Any]) -> None:
    # Run again after a crash, it asks under the same key: the provider answers with the
    # payout it already made, never a second one.
    withdrawal_payout_send(withdrawal_id=int(payload["withdrawal_id"]))
