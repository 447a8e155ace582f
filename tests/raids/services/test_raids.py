"""Creating a raid: the target and follow accounts resolved through X, the join chats
checked with Telegram, every field checked (and nothing written on a refusal), the pool
held in the raid's transaction, one open raid per post, the idempotency key, the jobs;
then starting, announcing, reminding and cancelling."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from botruntime.models import Job
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from notifications.models import OutboxMessage
from raids import payouts
from raids.models import Raid, Task
from raids.services.raids import (
    formula_check,
    raid_activate,
    raid_announce,
    raid_cancel,
    raid_create,
    raid_remind,
)
from tests.raids.helpers import CURRENCY, GROUP_FUNDS
from wallet.models import Hold
from wallet.selectors import balances

POOL = 50_000_000


def available(scene) -> int:
    return balances(tenant=scene.tenant, owner_kind="group", owner_id=scene.chat_id)[CURRENCY][
        "available"
    ]


def create(scene, x, **overrides: Any) -> tuple[Raid, bool]:
    now = timezone.now()
    fields: dict[str, Any] = {
        "tenant": scene.tenant,
        "chat_id": scene.chat_id,
        # The URL names somebody else: the author stored is X's.
        "post_url": f"https://twitter.com/someone_else/status/{x.target['id']}?s=20",
        "tasks": [
            {"kind": "repost", "points": 10},
            {"kind": "like", "points": 5},
            {"kind": "reply", "points": 10, "params": {"required_words": ["v2"]}},
            {"kind": "quote", "points": 30, "role": "kol"},
        ],
        "starts_at": now,
        "ends_at": now + timedelta(hours=2),
        "currency": CURRENCY,
        "pool_amount": POOL,
        "formula": "points",
        "actor": Actor.user(scene.owner["id"]),
    }
    fields.update(overrides)
    return raid_create(**fields)


def nothing_written(scene) -> None:
    with tenant_context(scene.tenant):
        assert not Raid.objects.exists()
        assert not Task.objects.exists()
    assert not Hold.objects.filter(tenant=scene.tenant).exists()
    assert available(scene) == GROUP_FUNDS
    assert not Entry.objects.filter(tenant_id=scene.tenant.pk, action="raids.raid_created")


def test_a_raid_is_created_on_the_post_x_confirms_with_its_pool_held(named_scene, raid_x):
    raid_scene = named_scene
    raid, created = create(raid_scene, raid_x)
    assert created and raid.status == Raid.Status.ACTIVE
    assert raid.post_id == int(raid_x.target["id"])
    assert raid.post_author_id == int(raid_x.target["author_id"])
    assert raid.post_author_username == "project"
    assert raid.post_url == f"https://x.com/project/status/{raid_x.target['id']}"
    assert raid.post_text == "Big news today: v2 is live"
    hold = Hold.objects.get(pk=raid.hold_id, tenant=raid_scene.tenant)
    assert (hold.amount, hold.remaining, hold.currency) == (POOL, POOL, CURRENCY)
    assert available(raid_scene) == GROUP_FUNDS - POOL
    with tenant_context(raid_scene.tenant):
        tasks = list(raid.tasks.values_list("kind", "role", "points", "params", "position"))
    assert tasks == [
        ("repost", "member", 10, {}, 0),
        ("like", "member", 5, {}, 1),
        ("reply", "member", 10, {"required_words": ["v2"], "min_length": 0}, 2),
        ("quote", "kol", 30, {"required_words": [], "min_length": 0}, 3),
    ]
    entry = Entry.objects.get(tenant_id=raid_scene.tenant.pk, action="raids.raid_created")
    assert entry.target_id == str(raid.pk) and entry.data["hold_id"] == hold.pk
    # Active now: no start job; reminders 1 h and 10 min before the end; the close; the
    # first validation pass at the start.
    jobs = Job.objects.filter(tenant=raid_scene.tenant, kind__startswith="raids.")
    assert sorted((j.kind, j.run_at, j.payload.get("before")) for j in jobs) == [
        ("raids.close", raid.ends_at, None),
        ("raids.remind", raid.ends_at - timedelta(hours=1), 3600),
        ("raids.remind", raid.ends_at - timedelta(minutes=10), 600),
        ("raids.validate", raid.starts_at, None),
    ]
    # Announced in the group, with the Join deep link on the community's own bot.
    announcement = OutboxMessage.objects.get(tenant=raid_scene.tenant, event="raid.created")
    assert announcement.chat_id == raid_scene.chat_id
    button = announcement.options["reply_markup"]["inline_keyboard"][0][0]
    bot = raid_scene.tenant.slug.replace("-", "_") + "_bot"
    assert button == {"text": "Join", "url": f"https://t.me/{bot}?start=raid_{raid.pk}"}
    assert "Pool: 50 USDT" in announcement.text and "Quote: 30 pts [KOL]" in announcement.text


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/project/status/123",
        "https://x.com/project/123",
        "https://x.com/project/status/abc",
        "x.com/project/status/1",
        "https://x.com/project/status/99999999999999999999",
    ],
)
def test_an_address_that_is_not_an_x_post_is_refused(raid_scene, raid_x, url):
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, post_url=url)
    assert (refused.value.code, refused.value.status) == ("invalid_post_url", 400)
    nothing_written(raid_scene)


def test_a_post_x_does_not_know_is_refused(raid_scene, raid_x):
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, post_url="https://x.com/project/status/123456789")
    assert (refused.value.code, refused.value.status) == ("post_not_found", 404)
    nothing_written(raid_scene)


def test_the_pool_must_be_in_the_groups_funds_and_nothing_is_written_otherwise(raid_scene, raid_x):
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, pool_amount=GROUP_FUNDS + 1)
    assert refused.value.code == "insufficient_funds" and 400 <= refused.value.status < 500
    nothing_written(raid_scene)
    assert not OutboxMessage.objects.filter(tenant=raid_scene.tenant).exists()
    assert not Job.objects.filter(tenant=raid_scene.tenant, kind__startswith="raids.").exists()


def test_one_open_raid_per_post_and_a_new_one_after_cancelling(raid_scene, raid_x):
    first, _ = create(raid_scene, raid_x)
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x)
    assert (refused.value.code, refused.value.status) == ("raid_exists", 409)
    # The refused raid's hold was rolled back with it.
    assert Hold.objects.filter(tenant=raid_scene.tenant).count() == 1
    assert available(raid_scene) == GROUP_FUNDS - POOL
    raid_cancel(tenant=raid_scene.tenant, raid=first, actor=Actor.user(raid_scene.owner["id"]))
    second, created = create(raid_scene, raid_x)
    assert created and second.pk != first.pk


def test_the_same_idempotency_key_answers_the_same_raid(raid_scene, raid_x):
    raid, created = create(raid_scene, raid_x, idempotency_key="form-1")
    again, created_again = create(raid_scene, raid_x, idempotency_key="form-1")
    assert (created, created_again, again.pk) == (True, False, raid.pk)
    assert Hold.objects.filter(tenant=raid_scene.tenant).count() == 1
    assert available(raid_scene) == GROUP_FUNDS - POOL


def _tasks(n: int) -> list[dict]:
    return [{"kind": "like", "points": 1}] * n


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tasks": []}, "tasks"),
        ({"tasks": _tasks(11)}, "tasks"),
        ({"tasks": [{"kind": "dance", "points": 1}]}, "tasks[0].kind"),
        ({"tasks": [{"kind": "like", "points": 0}]}, "tasks[0].points"),
        ({"tasks": [{"kind": "like", "points": 10_001}]}, "tasks[0].points"),
        ({"tasks": [{"kind": "like", "points": 1, "role": "vip"}]}, "tasks[0].role"),
        ({"tasks": [{"kind": "like", "points": 1, "params": {"x": 1}}]}, "tasks[0].params"),
        (
            {"tasks": [{"kind": "reply", "points": 1, "params": {"min_length": 500}}]},
            "tasks[0].params.min_length",
        ),
        (
            {"tasks": [{"kind": "follow", "points": 1, "params": {"username": "no such!"}}]},
            "tasks[0].params.username",
        ),
        ({"ends_at": timezone.now() - timedelta(minutes=1)}, "ends_at"),
        ({"ends_at": timezone.now() + timedelta(days=31)}, "ends_at"),
        ({"starts_at": timezone.now() - timedelta(minutes=5)}, "starts_at"),
        ({"currency": "DOGE"}, "currency"),
        ({"pool_amount": 0}, "pool_amount"),
        ({"formula": "lottery"}, "formula"),
        ({"formula": "fixed", "formula_params": {}}, "formula_params.per_task"),
        (
            {"formula": "threshold", "formula_params": {"min_points": 0}},
            "formula_params.min_points",
        ),
        ({"formula": "points", "formula_params": {"per_task": 1}}, "formula_params"),
        (
            {
                "formula": "ranks",
                "formula_params": {
                    "bands": [
                        {"first": 1, "last": 3, "amount": 1_000_000},
                        {"first": 3, "last": 5, "amount": 100},
                    ]
                },
            },
            "formula_params.bands",
        ),
        (
            {
                "formula": "ranks",
                "formula_params": {"bands": [{"first": 1, "last": 100, "amount": POOL}]},
            },
            "formula_params.bands",
        ),
        ({"min_followers": -1}, "min_followers"),
        ({"grace_seconds": 10**6}, "grace_seconds"),
        ({"title": "x" * 121}, "title"),
    ],
)
def test_each_wrong_field_is_named_and_nothing_is_written(raid_scene, raid_x, overrides, field):
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, **overrides)
    assert refused.value.status == 400
    assert refused.value.message.startswith(f"{field}:"), refused.value.message
    nothing_written(raid_scene)


def test_formula_params_are_kept_normalised(raid_scene, raid_x):
    bands = [{"first": 4, "last": 10, "amount": 100}, {"first": 1, "last": 3, "amount": 1_000}]
    raid, _ = create(raid_scene, raid_x, formula="ranks", formula_params={"bands": bands})
    assert raid.formula_params == {"bands": [bands[1], bands[0]]}


@pytest.mark.parametrize(
    ("formula", "params"),
    [
        ("points", {}),
        ("fixed", {"per_task": 1_000}),
        ("threshold", {"min_points": 10}),
        (
            "ranks",
            {
                "bands": [
                    {"first": 2, "last": 3, "amount": 10},
                    {"first": 1, "last": 1, "amount": 50},
                ]
            },
        ),
    ],
)
def test_what_creation_keeps_is_what_settlement_pays_by(formula, params):
    """One shape of the formula's parameters from the API to the payouts: what creation
    accepts and keeps, the payouts' own check takes unchanged."""
    kept = formula_check(formula, params, POOL)
    assert payouts.params_check(formula, kept) == kept


def test_a_follow_task_names_the_account_x_resolves(raid_scene, raid_x):
    account = raid_x.add_account("Partner_Co", name="Partner")
    tasks = [{"kind": "follow", "points": 5, "params": {"username": "@partner_co"}}]
    raid, _ = create(raid_scene, raid_x, tasks=tasks)
    with tenant_context(raid_scene.tenant):
        params = raid.tasks.get().params
    assert params == {"x_user_id": int(account["id"]), "username": "Partner_Co"}
    with pytest.raises(ServiceError) as refused:
        create(
            raid_scene,
            raid_x,
            post_url=f"https://x.com/project/status/{raid_x.post('project', 'other')['id']}",
            tasks=[{"kind": "follow", "points": 5, "params": {"username": "nobody_here"}}],
        )
    assert refused.value.code == "x_user_not_found"
    assert refused.value.message.startswith("tasks[0].params.username:")


def test_a_join_task_needs_a_chat_whose_members_the_bot_can_see(raid_scene, raid_x):
    channel = -1_007_399_000_001
    raid_scene.tg.add_group(channel, title="Announcements", type="channel")
    tasks = [{"kind": "join", "points": 5, "params": {"chat_id": channel}}]
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, tasks=tasks)
    assert refused.value.code == "join_chat_unreachable"
    assert refused.value.message.startswith("tasks[0].params.chat_id:")
    nothing_written(raid_scene)
    # A member only: Telegram would not show it a channel's members.
    raid_scene.tg.set_member(channel, raid_scene.bot_id, "member")
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, tasks=tasks)
    assert refused.value.code == "join_chat_unreachable"
    assert "administrator" in refused.value.message
    raid_scene.tg.set_member(channel, raid_scene.bot_id, "administrator")
    raid, _ = create(raid_scene, raid_x, tasks=tasks)
    with tenant_context(raid_scene.tenant):
        assert raid.tasks.get().params == {"chat_id": channel, "title": "Announcements"}


def test_a_group_that_is_not_bound_is_refused(raid_scene, raid_x):
    with pytest.raises(ServiceError) as refused:
        create(raid_scene, raid_x, chat_id=-1_000_000_000_042)
    assert refused.value.code == "group_not_found"


def test_a_later_raid_starts_and_is_announced_once_when_its_time_comes(raid_scene, raid_x):
    starts = timezone.now() + timedelta(hours=1)
    raid, _ = create(raid_scene, raid_x, starts_at=starts, ends_at=starts + timedelta(hours=3))
    assert raid.status == Raid.Status.SCHEDULED
    start = Job.objects.get(tenant=raid_scene.tenant, kind="raids.start")
    assert start.run_at == starts and start.payload == {"raid_id": raid.pk}
    assert not OutboxMessage.objects.filter(tenant=raid_scene.tenant).exists()
    assert not raid_activate(tenant=raid_scene.tenant, raid=raid, now=timezone.now())
    assert not raid_announce(tenant=raid_scene.tenant, raid=raid)  # not active yet
    assert raid_activate(tenant=raid_scene.tenant, raid=raid, now=starts)
    assert not raid_activate(tenant=raid_scene.tenant, raid=raid, now=starts)
    assert raid_announce(tenant=raid_scene.tenant, raid=raid)
    assert raid_announce(tenant=raid_scene.tenant, raid=raid)
    assert OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.created").count() == 1
    assert Entry.objects.filter(tenant_id=raid_scene.tenant.pk, action="raids.raid_started")


def test_each_reminder_goes_once_and_only_while_the_raid_is_active(raid_scene, raid_x):
    raid, _ = create(raid_scene, raid_x)
    for before in (timedelta(hours=1), timedelta(hours=1), timedelta(minutes=10)):
        assert raid_remind(tenant=raid_scene.tenant, raid=raid, before=before)
    reminders = OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.ending")
    assert sorted(m.text.split(" ends in ")[1].split(":")[0] for m in reminders) == [
        "1 h",
        "10 min",
    ]
    raid_cancel(tenant=raid_scene.tenant, raid=raid, actor=Actor.user(raid_scene.owner["id"]))
    assert not raid_remind(tenant=raid_scene.tenant, raid=raid, before=timedelta(minutes=5))


def test_cancelling_returns_the_whole_pool_once(raid_scene, raid_x):
    raid, _ = create(raid_scene, raid_x)
    cancelled = raid_cancel(
        tenant=raid_scene.tenant, raid=raid, actor=Actor.user(raid_scene.owner["id"])
    )
    assert cancelled.status == Raid.Status.CANCELLED
    assert available(raid_scene) == GROUP_FUNDS
    assert Hold.objects.get(pk=raid.hold_id).status == Hold.Status.CANCELLED
    entry = Entry.objects.get(tenant_id=raid_scene.tenant.pk, action="raids.raid_cancelled")
    assert entry.data == {"was": "active", "released": POOL, "currency": CURRENCY}
    with pytest.raises(ServiceError) as refused:
        raid_cancel(tenant=raid_scene.tenant, raid=raid, actor=Actor.user(raid_scene.owner["id"]))
    assert refused.value.code == "raid_not_cancellable"
    assert available(raid_scene) == GROUP_FUNDS
