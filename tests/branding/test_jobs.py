"""``branding.bot_status`` run by the durable job runner: it writes the backend's status
back and enqueues itself again while the bot is on its way."""

from __future__ import annotations

from botruntime.models import Job
from botruntime.services import job_run, jobs_claim
from branding.selectors import custom_bot_get
from branding.services.bots import custom_bot_create, custom_bot_deploy
from history.services import Actor
from provisioner.spec import Rollout, Status
from tests.branding.helpers import custom_token

ACTOR = Actor.user(7301)
PARAMS = {
    "project_name": "Drop",
    "token_symbol": "DRP",
    "amount_per_claim": "5",
    "max_claims": 10,
    "chain": "ton",
}


def _run_due(settings) -> list[str]:
    return [job_run(job=job, worker="test") for job in jobs_claim(worker="test", limit=10)]


def test_the_job_follows_a_deployment_until_it_runs(tg, tenant, backend, settings):
    settings.BOT_STATUS_POLL_S = 0
    token = custom_token(21)
    tg.add_bot(token, username="drop_claims_bot")
    custom_bot_create(tenant=tenant, token=token, kind="airdrop", parameters=PARAMS, actor=ACTOR)
    custom_bot_deploy(tenant=tenant, bot_id=800000021, actor=ACTOR)
    backend.status_answer = Rollout(Status.DEPLOYING)
    assert _run_due(settings) == ["done"]
    assert custom_bot_get(tenant=tenant, bot_id=800000021).status == "deploying"
    backend.status_answer = Rollout(Status.RUNNING)
    assert _run_due(settings) == ["done"]
    assert custom_bot_get(tenant=tenant, bot_id=800000021).status == "running"
    assert _run_due(settings) == []  # running: no more looks
    assert Job.objects.filter(kind="branding.bot_status").count() == 2
