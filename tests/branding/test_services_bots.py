"""The custom bot lifecycle with a recording backend: create (token, kind, parameters),
deploy (a BotSpec with the rendered texts, the status followed), update, pause, delete,
token rotation; each status change audited and told to the admins with manage_bots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from branding.models import CustomBot, MessageText
from branding.services.bots import (
    bot_token_rotate,
    custom_bot_create,
    custom_bot_delete,
    custom_bot_deploy,
    custom_bot_pause,
    custom_bot_status_follow,
    custom_bot_update,
)
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from notifications.models import OutboxMessage
from provisioner.spec import Rollout, Status
from tenancy.models import Bot
from tenancy.selectors import tenant_bots
from tests.branding.helpers import custom_token

ACTOR = Actor.user(7301)
TASKS = {
    "campaign_name": "Launch",
    "tasks": [{"title": "Follow", "url": "https://x.com/p", "points": 5}],
}


@pytest.fixture
def made(tg, tenant, bot_owner, backend):
    """A pending task bot 800000011 of ``tenant``."""
    token = custom_token(11)
    tg.add_bot(token, username="launch_tasks_bot")
    return custom_bot_create(tenant=tenant, token=token, kind="task", parameters=TASKS, actor=ACTOR)


def _status_messages(tenant) -> list[tuple[int, str]]:
    return list(
        OutboxMessage.objects.filter(tenant=tenant, event="bot.status")
        .order_by("id")
        .values_list("chat_id", "text")
    )


def _custom(tenant, bot_id: int = 800000011) -> CustomBot:
    with tenant_context(tenant):
        return CustomBot.objects.get(telegram_id=bot_id)


def test_create_validates_binds_and_stays_pending(made, tenant, backend):
    assert (made.kind, made.status, made.username) == ("task", "pending", "launch_tasks_bot")
    assert made.parameters == TASKS and made.placement == "pooled"
    assert Bot.objects.get(telegram_id=800000011).tenant_id == tenant.pk
    assert backend.calls == []  # nothing runs before a deploy
    assert Entry.objects.filter(tenant_id=tenant.pk, action="custom_bot.created").exists()


def test_invalid_parameters_name_the_field_and_bind_nothing(tg, tenant, backend):
    token = custom_token(12)
    tg.add_bot(token, username="bad_params_bot")
    bad = {"campaign_name": "X", "tasks": [{"title": "A", "points": 0}]}
    with pytest.raises(ServiceError) as refused:
        custom_bot_create(tenant=tenant, token=token, kind="task", parameters=bad, actor=ACTOR)
    assert refused.value.code == "invalid_parameters"
    assert refused.value.errors["tasks[0].url"] == "this field is required"
    assert "tasks[0].points" in refused.value.errors
    assert not Bot.objects.filter(telegram_id=800000012).exists()


def test_an_unknown_kind_names_the_kinds(tg, tenant, backend):
    with pytest.raises(ServiceError) as refused:
        custom_bot_create(
            tenant=tenant, token=custom_token(13), kind="casino", parameters={}, actor=ACTOR
        )
    assert refused.value.code == "unknown_kind"
    assert "airdrop, moderation, task, white_label" in refused.value.message


def test_the_same_bot_twice_is_refused(made, tg, tenant):
    with pytest.raises(ServiceError) as refused:
        custom_bot_create(
            tenant=tenant, token=custom_token(11), kind="task", parameters=TASKS, actor=ACTOR
        )
    assert (refused.value.code, refused.value.status) == ("custom_bot_exists", 409)


def test_deploy_hands_the_backend_the_bot_with_its_texts(made, tenant, backend):
    with tenant_context(tenant):
        MessageText.objects.create(
            kind="task", language="en", key="welcome", text="Yo {first_name}! <b>"
        )
    bot = custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert bot.status == "deploying" and bot.revision == 1
    (spec,) = backend.specs()
    assert (spec.tenant, spec.tenant_id, spec.bot_id, spec.kind) == (
        tenant.slug,
        tenant.pk,
        800000011,
        "task",
    )
    assert spec.token == custom_token(11) and spec.placement == "pooled"
    # The brand's own text, escaped; a variable only an update knows stays a placeholder.
    assert spec.texts["welcome"] == "Yo {first_name}! &lt;b&gt;"
    assert '<a href="https://x.com/p">Follow</a> (5 points)' in spec.texts["task_list"]
    assert bot.config_sha256 == spec.config_sha256()
    # Followed by the durable job until it runs.
    job = Job.objects.get(kind="branding.bot_status", tenant=tenant)
    assert job.payload["bot_id"] == 800000011 and job.payload["revision"] == 1


def test_the_status_job_writes_running_back_and_tells_the_admins(made, tenant, backend, bot_owner):
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    deadline = timezone.now() + timedelta(minutes=5)
    custom_bot_status_follow(tenant=tenant, bot_id=800000011, revision=1, deadline=deadline)
    assert _custom(tenant).status == "running"
    assert ("status", (tenant.slug, 800000011)) in backend.calls
    messages = _status_messages(tenant)
    assert [m[0] for m in messages] == [bot_owner.telegram_id, bot_owner.telegram_id]
    assert messages[0][1] == "Task bot @launch_tasks_bot: deploying"
    assert messages[1][1] == "Task bot @launch_tasks_bot: running"
    actions = Entry.objects.filter(tenant_id=tenant.pk, action="custom_bot.status_changed")
    assert [e.data["to"] for e in actions.order_by("id")] == ["deploying", "running"]


def test_a_failed_rollout_keeps_its_reason(made, tenant, backend, bot_owner):
    backend.apply_answer = Rollout(Status.FAILED, reason="ImagePullBackOff")
    bot = custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert (bot.status, bot.status_reason) == ("failed", "ImagePullBackOff")
    assert (
        _status_messages(tenant)[-1][1] == "Task bot @launch_tasks_bot: failed (ImagePullBackOff)"
    )


def test_a_backend_that_raises_fails_the_deploy_with_the_reason(made, tenant, backend):
    backend.fail_with = ConnectionError("cluster unreachable")
    bot = custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert bot.status == "failed"
    assert bot.status_reason == "the provisioner could not deploy the bot: cluster unreachable"


def test_a_bot_that_never_starts_fails_after_the_deadline(made, tenant, backend):
    backend.status_answer = Rollout(Status.DEPLOYING, reason="0/1 ready")
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    soon = timezone.now() + timedelta(minutes=5)
    custom_bot_status_follow(tenant=tenant, bot_id=800000011, revision=1, deadline=soon)
    assert _custom(tenant).status == "deploying"
    # Looked again later: one waiting job per deployment (its dedupe key).
    assert Job.objects.filter(kind="branding.bot_status", status="pending").count() == 1
    assert [call for call, _ in backend.calls] == ["apply", "status"]
    past = timezone.now() - timedelta(seconds=1)
    custom_bot_status_follow(tenant=tenant, bot_id=800000011, revision=1, deadline=past)
    bot = _custom(tenant)
    assert bot.status == "failed"
    assert bot.status_reason == "did not start within 300 s: 0/1 ready"


def test_an_older_revisions_status_is_ignored(made, tenant, backend):
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)  # revision 2
    later = timezone.now() + timedelta(minutes=5)
    custom_bot_status_follow(tenant=tenant, bot_id=800000011, revision=1, deadline=later)
    assert _custom(tenant).status == "deploying"
    assert not any(call == "status" for call, _ in backend.calls)


def test_a_pending_bot_cannot_be_paused(made, tenant, backend):
    with pytest.raises(ServiceError) as refused:
        custom_bot_pause(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert (refused.value.code, refused.value.status) == ("invalid_status", 409)
    assert backend.calls == []


def test_pause_stops_it_and_deploy_starts_it_again(made, tenant, backend):
    backend.apply_answer = Rollout(Status.RUNNING)
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    bot = custom_bot_pause(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert bot.status == "paused"
    assert ("pause", (tenant.slug, 800000011)) in backend.calls
    assert Bot.objects.get(telegram_id=800000011).is_active is False  # the shards let go
    with pytest.raises(ServiceError):
        custom_bot_pause(tenant=tenant, bot_id=800000011, actor=ACTOR)
    bot = custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert (bot.status, bot.revision) == ("running", 2)
    assert Bot.objects.get(telegram_id=800000011).is_active is True


def test_update_validates_and_redeploys_a_running_bot(made, tenant, backend):
    with pytest.raises(ServiceError) as refused:
        custom_bot_update(tenant=tenant, bot_id=800000011, parameters={"tasks": []}, actor=ACTOR)
    assert set(refused.value.errors) == {"campaign_name", "tasks"}
    custom_bot_update(
        tenant=tenant, bot_id=800000011, parameters={**TASKS, "campaign_name": "Two"}, actor=ACTOR
    )
    assert backend.specs() == []  # pending: kept for the next deploy
    backend.apply_answer = Rollout(Status.RUNNING)
    custom_bot_deploy(tenant=tenant, bot_id=800000011, actor=ACTOR)
    bot = custom_bot_update(
        tenant=tenant, bot_id=800000011, parameters={**TASKS, "campaign_name": "Three"}, actor=ACTOR
    )
    assert bot.revision == 2 and backend.specs()[-1].parameters["campaign_name"] == "Three"


def test_delete_removes_the_workload_and_deactivates_the_bot(made, tenant, backend):
    custom_bot_delete(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert backend.calls == [("remove", (tenant.slug, 800000011))]
    with tenant_context(tenant):
        assert not CustomBot.objects.exists()
    assert Bot.objects.get(telegram_id=800000011).is_active is False
    assert Entry.objects.filter(tenant_id=tenant.pk, action="custom_bot.deleted").exists()


def test_a_failed_removal_keeps_the_bot(made, tenant, backend):
    backend.remove_answer = Rollout(Status.FAILED, reason="the API said no")
    with pytest.raises(ServiceError) as refused:
        custom_bot_delete(tenant=tenant, bot_id=800000011, actor=ACTOR)
    assert (refused.value.code, refused.value.status) == ("provisioner_failed", 502)
    assert _custom(tenant).status == "pending"


def test_rotation_swaps_the_token_of_the_same_bot(made, tg, tenant, backend):
    new = custom_token(11, secret="rotated")
    tg.add_bot(new, username="launch_tasks_bot")  # BotFather's /revoke: the old one is dead
    bot_token_rotate(tenant=tenant, bot_id=800000011, token=new, actor=ACTOR)
    assert (800000011, new) in tenant_bots(tenant=tenant)
    assert Entry.objects.filter(tenant_id=tenant.pk, action="bot.token_rotated").exists()
    assert backend.specs() == []  # pooled and pending: nothing to redeploy


def test_rotation_to_another_bot_is_refused(made, tg, tenant, backend):
    other = custom_token(14)
    tg.add_bot(other, username="other_bot")
    with pytest.raises(ServiceError) as refused:
        bot_token_rotate(tenant=tenant, bot_id=800000011, token=other, actor=ACTOR)
    assert refused.value.code == "different_bot"
    assert (800000011, custom_token(11)) in tenant_bots(tenant=tenant)


def test_rotation_to_a_token_telegram_refuses_is_refused(made, tg, tenant, backend):
    with pytest.raises(ServiceError) as refused:
        bot_token_rotate(
            tenant=tenant, bot_id=800000011, token=custom_token(11, secret="never"), actor=ACTOR
        )
    assert refused.value.code == "invalid_token"
    assert (800000011, custom_token(11)) in tenant_bots(tenant=tenant)


def test_rotation_redeploys_a_running_isolated_bot(tg, make_tenant, backend):
    tenant = make_tenant(plan="business")
    token = custom_token(15)
    tg.add_bot(token, username="isolated_one_bot")
    made = custom_bot_create(tenant=tenant, token=token, kind="task", parameters=TASKS, actor=ACTOR)
    assert made.placement == "isolated"
    backend.apply_answer = Rollout(Status.RUNNING)
    custom_bot_deploy(tenant=tenant, bot_id=800000015, actor=ACTOR)
    new = custom_token(15, secret="rotated")
    tg.add_bot(new, username="isolated_one_bot")
    bot_token_rotate(tenant=tenant, bot_id=800000015, token=new, actor=ACTOR)
    specs = backend.specs()
    assert [s.token for s in specs] == [token, new]
    assert specs[-1].placement == "isolated" and _custom(tenant, 800000015).revision == 2


def test_a_deleted_bot_can_be_made_again(made, tenant, backend):
    custom_bot_delete(tenant=tenant, bot_id=800000011, actor=ACTOR)
    again = custom_bot_create(
        tenant=tenant, token=custom_token(11), kind="task", parameters=TASKS, actor=ACTOR
    )
    assert (again.status, again.revision) == ("pending", 0)
    assert Bot.objects.get(telegram_id=800000011).is_active is True


def test_a_text_change_redeploys_the_live_bots_of_its_kind_only(made, tenant, backend):
    from branding.services.texts import message_text_revert, message_text_set

    custom_bot_deploy(tenant=tenant, bot_id=made.telegram_id, actor=ACTOR)
    assert len(backend.specs()) == 1
    with tenant_context(tenant):
        message_text_set(
            tenant=tenant,
            kind="airdrop",
            language="en",
            key="claim_closed",
            text="Over",
            actor=ACTOR,
        )
    assert len(backend.specs()) == 1  # another kind's text: nothing to redeploy
    with tenant_context(tenant):
        message_text_set(
            tenant=tenant,
            kind="task",
            language="en",
            key="task_done",
            text="Nice {title}!",
            actor=ACTOR,
        )
    [_, spec] = backend.specs()
    assert spec.texts["task_done"] == "Nice {title}!"
    with tenant_context(tenant):
        message_text_revert(tenant=tenant, kind="task", language="en", key="task_done", actor=ACTOR)
    assert len(backend.specs()) == 3 and "Nice" not in backend.specs()[-1].texts["task_done"]


def test_resume_applies_the_live_isolated_bots_again_without_a_revision(made, tenant, backend):
    from branding.services.bots import custom_bots_resume

    with tenant_context(tenant):
        CustomBot.objects.filter(pk=made.pk).update(placement="isolated")
    Bot.objects.filter(telegram_id=made.telegram_id).update(placement="isolated")
    assert custom_bots_resume(tenant=tenant) == 0  # pending: nothing to resume
    custom_bot_deploy(tenant=tenant, bot_id=made.telegram_id, actor=ACTOR)
    assert custom_bots_resume(tenant=tenant) == 1
    assert [s.bot_id for s in backend.specs()] == [made.telegram_id, made.telegram_id]
    assert _custom(tenant).revision == 1
    backend.apply_answer = Rollout(Status.FAILED, reason="no process")
    custom_bots_resume(tenant=tenant)
    assert (_custom(tenant).status, _custom(tenant).status_reason) == ("failed", "no process")
