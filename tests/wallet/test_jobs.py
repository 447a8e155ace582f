"""The wallet's durable jobs: Stars reconciliation is a daily platform job."""

from __future__ import annotations

from datetime import timedelta

from config.job_registry import job_kinds
from wallet.models import StarsDeposit


def test_stars_reconciliation_runs_daily_from_the_job_registry(stars_group, person):
    kind = job_kinds()["wallet.stars_reconcile"]
    assert (kind.every, kind.per_tenant) == (timedelta(days=1), False)
    group = stars_group()
    deposit = group.pay(person("payer"), 12)
    group.refund_outside(deposit)

    kind.func(tenant=None, payload={})

    assert StarsDeposit.objects.get(pk=deposit.pk).status == StarsDeposit.Status.REVERSED
