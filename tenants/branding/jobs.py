"""Durable jobs of branding (``config.job_registry``): ``branding.bot_status`` follows a
custom bot's deployment (``custom_bot_deploy`` enqueues it, it enqueues itself again
every ``BOT_STATUS_POLL_S`` until the bot runs, fails or its deadline passes). Idempotent:
a bot deployed again, paused or deleted since is left alone."""

from __future__ import annotations

from datetime import datetime

from branding.services.bots import STATUS_JOB, custom_bot_status_follow
from config.job_registry import job
from tenancy.models import Tenant


@job(STATUS_JOB, per_tenant=True)
def bot_status_job(*, tenant: Tenant, payload: dict) -> None:
    custom_bot_status_follow(
        tenant=tenant,
        bot_id=int(payload["bot_id"]),
        revision=int(payload["revision"]),
        deadline=datetime.fromisoformat(payload["deadline"]),
    )
