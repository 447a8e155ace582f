"""fraud_scan on a real raid (sandbox X, linked accounts, results with evidence): each
signal raises its flag once, the flagged are excluded and the others stay active, a
second scan raises nothing; an admin's dismissal puts a participant back (unless another
flag is open) and sticks across scans, upholding keeps them out, both audited; the
blocklist and the join check; a settled raid is left alone."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from accounts.models import TelegramUser
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from raids.models import Flag, Participant, Raid, Result, Task
from raids.services.fraud import (
    blocked_add,
    blocked_remove,
    flag_decide,
    fraud_join_check,
    fraud_scan,
)
from tests.raids.helpers import join, x_link
from wallet.models import Withdrawal
from xclient.links import link_remove
from xclient.selectors import link_active

ADMIN = Actor.user(7_399_001)
_n = itertools.count(1)


@pytest.fixture(autouse=True)
def _no_relink_cooldown(settings):
    settings.XLINK_RELINK_COOLDOWN_DAYS = 0


def relink(scene, user: TelegramUser, account: dict, *, age_days: int = 400) -> None:
    """``user`` unlinks their X account (if linked) and links ``account``."""
    if link_active(user=user) is not None:
        link_remove(user=user, confirmed=True)
    x_link(scene, user, account, age_days=age_days, followers=50)


def flags_of(scene, raid: Raid) -> list[tuple[int, str, str]]:
    with tenant_context(scene.tenant):
        return sorted(raid.flags.values_list("user_id", "reason", "status"))


def statuses(scene, raid: Raid) -> dict[int, str]:
    with tenant_context(scene.tenant):
        return dict(raid.participants.values_list("user_id", "status"))


def verified(scene, participant: Participant, kind: str, *, at=None, **evidence) -> None:
    with tenant_context(scene.tenant):
        task = Task.objects.get(raid=participant.raid, kind=kind)
        Result.objects.create(
            participant=participant,
            task=task,
            status=Result.Status.VERIFIED,
            evidence=evidence,
            checked_at=at or datetime.now(UTC),
            verified_at=at or datetime.now(UTC),
        )


def test_a_scan_flags_and_excludes_the_suspicious_and_only_once(
    raid_scene, raid_x, linked, make_raid
):
    scene = raid_scene
    raid = make_raid(scene)
    honest, honest_x = linked(scene, raid_x, "honest")
    young, young_x = linked(scene, raid_x, "young", age_days=2)
    shady, shady_x = linked(scene, raid_x, "shady")
    # Mallory had shady's account before; shady got it after her.
    mallory, _ = linked(scene, raid_x, "mallory")
    link_remove(user=shady, confirmed=True)
    relink(scene, mallory, shady_x)
    link_remove(user=mallory, confirmed=True)
    relink(scene, shady, shady_x)
    blocked_user, blocked_x = linked(scene, raid_x, "blockme")
    blocked_add(tenant=scene.tenant, x_user_id=int(blocked_x["id"]), reason="spam", actor=ADMIN)
    for user, account in (
        (honest, honest_x),
        (young, young_x),
        (shady, shady_x),
        (blocked_user, blocked_x),
    ):
        join(scene, raid, user, account)

    raised = fraud_scan(tenant=scene.tenant, raid=raid)

    assert sorted((f.user_id, f.reason) for f in raised) == sorted(
        [
            (young.telegram_id, "account_young"),
            (shady.telegram_id, "x_shared"),
            (blocked_user.telegram_id, "blocked"),
        ]
    )
    assert statuses(scene, raid) == {
        honest.telegram_id: "active",
        young.telegram_id: "excluded",
        shady.telegram_id: "excluded",
        blocked_user.telegram_id: "excluded",
    }
    entries = Entry.objects.filter(tenant=scene.tenant, action="raids.flag_raised")
    assert sorted(e.data["reason"] for e in entries) == ["account_young", "blocked", "x_shared"]
    assert all(e.data["newly_excluded"] and e.actor_id == "raids.fraud" for e in entries)

    assert fraud_scan(tenant=scene.tenant, raid=raid) == []  # idempotent
    assert len(flags_of(scene, raid)) == 3
    assert entries.count() == 3


def test_replies_copied_and_a_burst_of_fresh_accounts_from_the_evidence(
    raid_scene, raid_x, linked, make_raid
):
    scene = raid_scene
    raid = make_raid(scene, tasks=[("reply", 10, {}), ("repost", 5, {})])
    people = [linked(scene, raid_x, f"p{n}", age_days=200) for n in range(3)]
    fresh = [linked(scene, raid_x, f"f{n}", age_days=20) for n in range(3)]
    joined = {user.telegram_id: join(scene, raid, user, x) for user, x in people + fresh}
    p0, p1, p2 = (joined[user.telegram_id] for user, _ in people)
    verified(scene, p0, "reply", post_id="5000", text="@project LFG, the v2 launch is huge for us")
    # p1 posted first (X's ids grow with time): p0's is the copy, whoever joined first.
    verified(scene, p1, "reply", post_id=4999, text="LFG!!! The V2 launch is huge for us 🚀")
    verified(scene, p2, "reply", post_id="5002", text="the v2 launch is late but the team is huge")
    t0 = datetime.now(UTC) - timedelta(minutes=30)
    for n, (user, _) in enumerate(fresh):
        verified(scene, joined[user.telegram_id], "repost", at=t0 + timedelta(seconds=3 * n))
    # An old account in the same seconds is not part of a burst.
    verified(scene, p2, "repost", at=t0 + timedelta(seconds=1))

    fraud_scan(tenant=scene.tenant, raid=raid)

    assert flags_of(scene, raid) == sorted(
        [(p0.user_id, "reply_duplicate", "open")]
        + [(user.telegram_id, "burst", "open") for user, _ in fresh]
    )


def test_the_same_payout_destination_is_one_person(raid_scene, raid_x, linked, make_raid):
    scene = raid_scene
    raid = make_raid(scene)
    a, ax = linked(scene, raid_x, "alpha")
    b, bx = linked(scene, raid_x, "beta")
    c, cx = linked(scene, raid_x, "gamma")
    for user, destination in ((a, "UQ-one"), (b, "UQ-one"), (c, "UQ-two")):
        Withdrawal.objects.create(
            tenant=scene.tenant,
            user_id=user.telegram_id,
            currency="USDT",
            amount=1,
            destination=destination,
            status=Withdrawal.Status.PAID,
            provider="test",
            idempotency_key=f"w-{next(_n)}",
        )
    for user, account in ((a, ax), (b, bx), (c, cx)):
        join(scene, raid, user, account)
    fraud_scan(tenant=scene.tenant, raid=raid)
    assert flags_of(scene, raid) == sorted(
        [(a.telegram_id, "multi_account", "open"), (b.telegram_id, "multi_account", "open")]
    )


def test_dismissing_puts_back_upholding_keeps_out_and_both_are_audited(
    raid_scene, raid_x, linked, make_raid
):
    scene = raid_scene
    raid = make_raid(scene)
    young, young_x = linked(scene, raid_x, "young", age_days=1)
    twice, twice_x = linked(scene, raid_x, "twice", age_days=1)
    join(scene, raid, young, young_x)
    join(scene, raid, twice, twice_x)
    blocked_add(tenant=scene.tenant, user_id=twice.telegram_id, actor=ADMIN)
    fraud_scan(tenant=scene.tenant, raid=raid)
    with tenant_context(scene.tenant):
        flags = {(f.user_id, f.reason): f.pk for f in Flag.objects.all()}

    dismissed = flag_decide(
        status="dismissed",
        tenant=scene.tenant,
        flag_id=flags[(young.telegram_id, "account_young")],
        note="known member, new account",
        actor=ADMIN,
    )
    assert (dismissed.status, dismissed.reviewed_by, dismissed.note) == (
        "dismissed",
        7_399_001,
        "known member, new account",
    )
    assert statuses(scene, raid)[young.telegram_id] == "active"
    entry = Entry.objects.get(tenant=scene.tenant, action="raids.flag_dismissed")
    assert (entry.actor_id, entry.data["note"], entry.data["participant_status"]) == (
        "7399001",
        "known member, new account",
        "active",
    )
    # A scan again does not raise a dismissed flag again: the override sticks.
    assert fraud_scan(tenant=scene.tenant, raid=raid) == []
    assert statuses(scene, raid)[young.telegram_id] == "active"

    # Dismissing one of two open flags leaves the participant out.
    flag_decide(
        status="dismissed",
        tenant=scene.tenant,
        flag_id=flags[(twice.telegram_id, "account_young")],
        actor=ADMIN,
    )
    assert statuses(scene, raid)[twice.telegram_id] == "excluded"
    upheld = flag_decide(
        status="upheld",
        tenant=scene.tenant,
        flag_id=flags[(twice.telegram_id, "blocked")],
        note="confirmed farm",
        actor=ADMIN,
    )
    assert upheld.status == "upheld"
    assert statuses(scene, raid)[twice.telegram_id] == "excluded"
    assert Entry.objects.filter(tenant=scene.tenant, action="raids.flag_upheld").count() == 1

    with pytest.raises(ServiceError) as decided:
        flag_decide(status="dismissed", tenant=scene.tenant, flag_id=upheld.pk, actor=ADMIN)
    assert (decided.value.code, decided.value.status) == ("flag_decided", 409)
    with pytest.raises(ServiceError) as missing:
        flag_decide(status="upheld", tenant=scene.tenant, flag_id=999_999, actor=ADMIN)
    assert missing.value.code == "flag_not_found"
    with pytest.raises(ServiceError) as long_note:
        flag_decide(
            status="dismissed", tenant=scene.tenant, flag_id=upheld.pk, note="x" * 301, actor=ADMIN
        )
    assert long_note.value.code == "invalid"
    with pytest.raises(ServiceError, match="status: one of dismissed, upheld") as reopened:
        flag_decide(status="open", tenant=scene.tenant, flag_id=upheld.pk, actor=ADMIN)
    assert reopened.value.code == "invalid"


def test_a_settled_raid_is_not_scanned(raid_scene, raid_x, linked, make_raid):
    scene = raid_scene
    raid = make_raid(scene)
    young, young_x = linked(scene, raid_x, "young", age_days=1)
    join(scene, raid, young, young_x)
    with tenant_context(scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(status=Raid.Status.SETTLED)
    assert fraud_scan(tenant=scene.tenant, raid=raid) == []
    assert flags_of(scene, raid) == []
    assert statuses(scene, raid)[young.telegram_id] == "active"
    with pytest.raises(ServiceError) as missing:
        fraud_scan(tenant=scene.tenant, raid=Raid(pk=raid.pk + 1000))
    assert (missing.value.code, missing.value.status) == ("raid_not_found", 404)


def test_the_join_check_refuses_the_blocked_and_shared_x_accounts(
    raid_scene, raid_x, linked, make_raid
):
    scene = raid_scene
    raid = make_raid(scene)
    honest, honest_x = linked(scene, raid_x, "honest")
    shady, shady_x = linked(scene, raid_x, "shady")
    mallory, _ = linked(scene, raid_x, "mallory")
    link_remove(user=shady, confirmed=True)
    relink(scene, mallory, shady_x)

    def check(user, account):
        return fraud_join_check(
            tenant=scene.tenant,
            raid=raid,
            user_id=user.telegram_id,
            x_user_id=int(account["id"]),
        )

    assert check(honest, honest_x) is None
    assert check(mallory, shady_x) == "x_shared"
    blocked = blocked_add(
        tenant=scene.tenant, user_id=honest.telegram_id, reason="bot", actor=ADMIN
    )
    assert check(honest, honest_x) == "blocked"
    blocked_remove(tenant=scene.tenant, blocked_id=blocked.pk, actor=ADMIN)
    assert check(honest, honest_x) is None
    blocked_add(tenant=scene.tenant, x_user_id=int(honest_x["id"]), actor=ADMIN)
    assert check(honest, honest_x) == "blocked"
    actions = Entry.objects.filter(tenant=scene.tenant, action__startswith="raids.blocked_")
    assert sorted(actions.values_list("action", flat=True)) == [
        "raids.blocked_added",
        "raids.blocked_added",
        "raids.blocked_removed",
    ]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({}, "invalid"),
        ({"user_id": 0}, "invalid"),
        ({"user_id": True}, "invalid"),
        ({"x_user_id": -5}, "invalid"),
        ({"user_id": 5, "reason": "x" * 301}, "invalid"),
    ],
)
def test_the_blocklist_refuses_bad_input_and_writes_nothing(raid_scene, fields, code):
    with pytest.raises(ServiceError) as refused:
        blocked_add(tenant=raid_scene.tenant, actor=ADMIN, **fields)
    assert refused.value.code == code
    assert not Entry.objects.filter(tenant=raid_scene.tenant, action="raids.blocked_added").exists()


def test_the_blocklist_lists_each_person_once(raid_scene):
    blocked_add(tenant=raid_scene.tenant, user_id=42, x_user_id=4242, actor=ADMIN)
    for fields in ({"user_id": 42}, {"x_user_id": 4242}, {"user_id": 43, "x_user_id": 4242}):
        with pytest.raises(ServiceError) as refused:
            blocked_add(tenant=raid_scene.tenant, actor=ADMIN, **fields)
        assert (refused.value.code, refused.value.status) == ("already_blocked", 409)
    with pytest.raises(ServiceError) as missing:
        blocked_remove(tenant=raid_scene.tenant, blocked_id=999_999, actor=ADMIN)
    assert missing.value.code == "blocked_not_found"
