"""Raid templates and auto-raids: a template's raid is checked as creating a raid checks
it, its project account resolved through X; a new original post of that account, as the X
feed ingests it, becomes one raid from the template (a durable job, once per template and
post whatever runs it again), and a raid that cannot be made (no funds) is recorded and
skipped, not retried."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from botruntime.models import Job
from botruntime.services import job_run, jobs_claim
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from raids.models import Raid, RaidTemplate
from raids.services.templates import (
    AUTO_RAID_JOB,
    auto_raid_create,
    template_remove,
    template_set,
)
from tests.raids.helpers import CURRENCY, GROUP_FUNDS, x_posts
from xfeed.services.ingest import posts_ingest

SPEC = {
    "title": "Launch raid",
    "tasks": [{"kind": "repost", "points": 10}, {"kind": "like", "points": 5}],
    "duration_minutes": 90,
    "currency": CURRENCY,
    "pool_amount": 5_000_000,
    "formula": "points",
}


def owner(scene) -> Actor:
    return Actor.user(scene.owner["id"])


def set_template(scene, **fields):
    """``template_set`` for the scene's group by its owner: "launch" with SPEC by default."""
    options = {"name": "launch", "spec": SPEC, **fields}
    return template_set(tenant=scene.tenant, chat_id=scene.chat_id, actor=owner(scene), **options)


def run_auto_raids() -> list[str]:
    done = []
    while claimed := jobs_claim(worker="w", kinds=[AUTO_RAID_JOB]):
        done += [job_run(job=job, worker="w") for job in claimed]
    return done


def test_a_template_is_checked_and_its_account_is_the_one_x_names(raid_scene, raid_x):
    template, created = set_template(raid_scene, username="@PROJECT")
    assert created and template.x_user_id == int(raid_x.target["author_id"])
    assert template.spec["username"] == "project" and template.spec["min_level"] == 0
    again, created = set_template(raid_scene, spec={**SPEC, "pool_amount": 7})
    assert not created and again.pk == template.pk and again.x_user_id is None
    assert Entry.objects.filter(action="raids.template_set").count() == 2


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({**SPEC, "tasks": []}, "tasks"),
        ({**SPEC, "currency": "DOGE"}, "spec.currency"),
        ({**SPEC, "pool_amount": 0}, "spec.pool_amount"),
        ({**SPEC, "duration_minutes": 1}, "spec.duration_minutes"),
        ({**SPEC, "formula": "fixed"}, "formula_params.per_task"),
        ({**SPEC, "colour": "red"}, "spec"),
    ],
)
def test_a_wrong_spec_is_named_and_nothing_is_written(raid_scene, raid_x, spec, field):
    with pytest.raises(ServiceError) as refused:
        set_template(raid_scene, spec=spec)
    assert refused.value.status == 400 and refused.value.message.startswith(f"{field}:")
    with tenant_context(raid_scene.tenant):
        assert not RaidTemplate.objects.exists()


def test_an_unknown_account_or_an_unbound_group_is_refused(raid_scene, raid_x):
    with pytest.raises(ServiceError) as unknown:
        set_template(raid_scene, username="nobody_here")
    assert unknown.value.code == "x_user_not_found"
    with pytest.raises(ServiceError) as elsewhere:
        template_set(
            tenant=raid_scene.tenant, chat_id=-1, name="launch", spec=SPEC, actor=owner(raid_scene)
        )
    assert elsewhere.value.code == "group_not_found"


def test_a_project_post_becomes_one_raid_from_the_template(raid_scene, raid_x):
    template, _ = set_template(raid_scene, username="project")
    raid_x.add_account("someone")
    fresh = raid_x.post("project", "v3 is out")
    raid_x.reply("project", fresh["id"], "and a reply of ours")  # not an original
    raid_x.post("someone", "not the project")
    posts = x_posts(raid_x, "from:project OR from:someone")
    for _ in range(2):  # the stream and a backfill bring the same posts
        posts_ingest(tenant=raid_scene.tenant, posts=posts, via="stream")
    jobs = Job.objects.filter(kind=AUTO_RAID_JOB, tenant=raid_scene.tenant)
    # The target of the fixtures and the new post: the two originals of the project.
    assert sorted(j.payload["post_id"] for j in jobs) == sorted(
        [int(fresh["id"]), int(raid_x.target["id"])]
    )
    assert run_auto_raids() == ["done", "done"]
    with tenant_context(raid_scene.tenant):
        raids = {r.post_id: r for r in Raid.objects.filter(template=template)}
        raid = raids[int(fresh["id"])]
        assert (raid.status, raid.pool_amount, raid.title) == ("active", 5_000_000, "Launch raid")
        assert (raid.ends_at - raid.starts_at).total_seconds() == 90 * 60
        assert [t.kind for t in raid.tasks.order_by("position")] == ["repost", "like"]
        assert raid.created_by is None
    # The same job again (a runtime that died before recording it) makes no second raid.
    again = auto_raid_create(
        tenant=raid_scene.tenant, template_id=template.pk, post_id=int(fresh["id"]), username=""
    )
    assert again is not None and again.pk == raid.pk
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.count() == 2


def test_a_raid_the_group_cannot_pay_is_recorded_and_skipped(raid_scene, raid_x):
    set_template(
        raid_scene, name="big", spec={**SPEC, "pool_amount": GROUP_FUNDS + 1}, username="project"
    )
    posts_ingest(tenant=raid_scene.tenant, posts=x_posts(raid_x, "from:project"), via="poll")
    assert run_auto_raids() == ["done"]
    with tenant_context(raid_scene.tenant):
        assert not Raid.objects.exists()
    [skipped] = Entry.objects.filter(action="raids.auto_raid_skipped")
    assert skipped.data["code"] == "insufficient_funds"


def test_a_paused_or_removed_template_starts_nothing(raid_scene, raid_x):
    template, _ = set_template(raid_scene, username="project", is_active=False)
    posts_ingest(tenant=raid_scene.tenant, posts=x_posts(raid_x, "from:project"), via="poll")
    assert not Job.objects.filter(kind=AUTO_RAID_JOB).exists()
    template_remove(
        tenant=raid_scene.tenant,
        chat_id=raid_scene.chat_id,
        template_id=template.pk,
        actor=owner(raid_scene),
    )
    with pytest.raises(ServiceError) as gone:
        template_remove(
            tenant=raid_scene.tenant,
            chat_id=raid_scene.chat_id,
            template_id=template.pk,
            actor=owner(raid_scene),
        )
    assert (gone.value.code, gone.value.status) == ("template_not_found", 404)
