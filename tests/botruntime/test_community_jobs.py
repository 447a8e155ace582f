"""The daily community refresh, run as the runtime runs it, against the sandbox Telegram:
each bound group's title (getChat) and admins (getChatAdministrators)."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from accounts.selectors import user_get, user_role
from botruntime.models import Job
from botruntime.services import job_enqueue, job_run, jobs_claim
from community.models import Group, GroupAdmin
from history.models import Entry
from tests.botruntime.helpers import bound_group


def test_groups_refresh_takes_titles_and_admins_from_telegram(bot_community, person, tg):
    tenant, bot_id = bot_community()
    creator, newcomer = person("carol"), person("dave")
    renamed = bound_group(tg, tenant, bot_id, creator, "Old title")
    left = bound_group(tg, tenant, bot_id, creator, "Bot gone")
    # On Telegram since the last sync: a new title, a new admin; the bot was removed
    # from the other group.
    tg.add_group(renamed, title="New title")
    tg.set_member(renamed, creator, "creator")
    tg.set_member(renamed, bot_id, "administrator")
    tg.set_member(renamed, newcomer, "administrator", can_restrict_members=True)
    tg.set_member(left, bot_id, "left")

    job = job_enqueue(kind="community.groups_refresh", tenant=tenant)
    [claimed] = jobs_claim(worker="w", kinds=["community.groups_refresh"])
    assert job_run(job=claimed, worker="w") == "done"

    with tenant_context(tenant):
        group = Group.objects.get(chat_id=renamed)
        assert group.title == "New title"
        admins = set(GroupAdmin.objects.filter(group=group).values_list("telegram_id", flat=True))
        assert admins == {creator, newcomer}
        assert Group.objects.get(chat_id=left).title == "Bot gone"  # skipped, not failed
    assert user_role(tenant=tenant, user=user_get(telegram_id=newcomer)) == "admin"
    change = Entry.objects.get(tenant=tenant, action="group.title_changed")
    assert change.data == {"from": "Old title", "to": "New title"}
    assert Job.objects.get(pk=job.pk).status == "done"
