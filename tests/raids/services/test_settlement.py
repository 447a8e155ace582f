"""Settlement: a raid's pool paid by its formula through one keyed hold settlement, the
rest back to the group, the payout report published with its digest in history; twice
is once, a crash after the wallet's step pays nobody twice, nobody is paid on an open or
cancelled raid."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from history.models import Entry
from raids.models import Participant, Raid
from raids.services import settlement
from raids.services.settlement import raid_settle, settle_key
from tests.raids.helpers import GROUP_FUNDS, raid_ended
from wallet.models import Hold, Transfer
from wallet.selectors import balances
from wallet.services.holds import hold_settle
from wallet.services.ledger import accounts_get_or_create

POOL = 1_000_000  # 1 USDT


def balance(scene, user_id: int) -> int:
    found = balances(tenant=scene.tenant, owner_kind="user", owner_id=user_id)
    return found.get("USDT", {}).get("available", 0)


def group_balance(scene) -> int:
    found = balances(tenant=scene.tenant, owner_kind="group", owner_id=scene.chat_id)
    return found["USDT"]["available"]


def payouts(raid: Raid) -> list[tuple[int, int]]:
    return list(
        Transfer.objects.filter(hold_id=raid.hold_id, kind="payout")
        .order_by("credit_id")
        .values_list("credit__owner_id", "amount")
    )


@pytest.fixture
def settled_scene(raid_scene, make_raid, scored):
    scene = raid_scene
    raid = make_raid(scene, pool=POOL, formula="points")
    people = {
        "ann": scored(scene, raid, "ann", 15, ("verified", "verified")),
        "bob": scored(scene, raid, "bob", 10, ("verified", "failed")),
        "cy": scored(scene, raid, "cy", 5, ("failed", "verified")),
        "dan": scored(scene, raid, "dan", 0, ("failed", "unverifiable")),
        "eve": scored(scene, raid, "eve", 40, ("verified", "verified"), excluded=True),
    }
    return scene, raid_ended(scene, raid), people


def test_points_pays_pro_rata_returns_the_rest_and_publishes_the_report(settled_scene):
    scene, raid, people = settled_scene
    done = raid_settle(tenant=scene.tenant, raid=raid)

    # 15/30, 10/30 and 5/30 of 1,000,000, rounded down; the 1 left goes back.
    expected = {"ann": 500_000, "bob": 333_333, "cy": 166_666, "dan": 0, "eve": 0}
    assert {name: balance(scene, p.user_id) for name, p in people.items()} == expected
    assert (done.payees, done.paid, done.released, done.replayed) == (3, 999_999, 1, False)
    assert group_balance(scene) == GROUP_FUNDS - 999_999
    assert Hold.objects.get(pk=raid.hold_id).status == "settled"
    with tenant_context(scene.tenant):
        raid.refresh_from_db()
        stored = dict(Participant.objects.filter(raid=raid).values_list("user_id", "payout"))
    assert stored == {p.user_id: expected[name] for name, p in people.items()}
    assert raid.status == Raid.Status.SETTLED and raid.settled_at is not None

    rows = list(csv.reader(io.StringIO(raid.report_csv)))
    assert rows[0] == [
        "user_id", "x_username", "points", "verified_tasks", "amount", "amount_minor", "currency"
    ]  # fmt: skip

    # Rank order, active participants only (eve is excluded), units and minor units.
    def row(name, *figures):
        return [str(people[name].user_id), people[name].x_username, *figures, "USDT"]

    assert rows[1:] == [
        row("ann", "15", "2", "0.5", "500000"),
        row("bob", "10", "1", "0.333333", "333333"),
        row("cy", "5", "1", "0.166666", "166666"),
        row("dan", "0", "0", "0", "0"),
    ]
    digest = hashlib.sha256(raid.report_csv.encode()).hexdigest()
    assert raid.report_sha256 == digest == done.report_sha256
    entry = Entry.objects.get(tenant=scene.tenant, action="raids.raid_settled")
    assert entry.target_id == str(raid.pk)
    assert entry.data["report_sha256"] == digest
    assert (entry.data["paid"], entry.data["released"], entry.data["payees"]) == (999_999, 1, 3)


def test_settling_again_pays_nothing_twice(settled_scene):
    scene, raid, people = settled_scene
    first = raid_settle(tenant=scene.tenant, raid=raid)
    again = raid_settle(tenant=scene.tenant, raid=raid)
    assert again.replayed and (again.paid, again.payees) == (first.paid, first.payees)
    assert again.report_sha256 == first.report_sha256
    assert len(payouts(raid)) == 3
    assert balance(scene, people["ann"].user_id) == 500_000
    assert Entry.objects.filter(tenant=scene.tenant, action="raids.raid_settled").count() == 1


def test_a_crash_after_the_wallet_step_leaves_nothing_and_the_rerun_pays_each_once(
    settled_scene, monkeypatch
):
    scene, raid, people = settled_scene

    def crash(*args, **kwargs):
        raise RuntimeError("killed after hold_settle")

    monkeypatch.setattr(settlement, "_payouts_write", crash)
    with pytest.raises(RuntimeError, match="killed"):
        raid_settle(tenant=scene.tenant, raid=raid)
    assert payouts(raid) == [] and balance(scene, people["ann"].user_id) == 0
    assert Hold.objects.get(pk=raid.hold_id).status == "open"
    monkeypatch.undo()

    done = raid_settle(tenant=scene.tenant, raid=raid)
    assert not done.replayed and done.paid == 999_999
    assert sorted(amount for _, amount in payouts(raid)) == [166_666, 333_333, 500_000]
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.SETTLED


def test_wallet_committed_without_the_raid_is_replayed_not_paid_again(settled_scene):
    """The wallet's part committed on its own (a split transaction, a restore): settling the
    raid recomputes the same payouts, the hold's key replays, and the raid ends settled."""
    scene, raid, people = settled_scene
    ordered = [people["ann"], people["bob"], people["cy"]]
    accounts = accounts_get_or_create(
        tenant=scene.tenant,
        owner_kind="user",
        owner_ids=[p.user_id for p in ordered],
        currency="USDT",
        kind="available",
    )
    hold_settle(
        hold=Hold.objects.get(pk=raid.hold_id),
        payouts=[
            (accounts[p.user_id], amount)
            for p, amount in zip(ordered, (500_000, 333_333, 166_666), strict=True)
        ],
        idempotency_key=settle_key(raid),
    )
    done = raid_settle(tenant=scene.tenant, raid=raid)
    assert done.paid == 999_999
    assert len(payouts(raid)) == 3  # one each, not two
    assert balance(scene, people["bob"].user_id) == 333_333
    entry = Entry.objects.get(tenant=scene.tenant, action="raids.raid_settled")
    assert entry.data["replayed_hold"] is True
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).status == Raid.Status.SETTLED


def test_a_raid_nobody_joined_gives_the_whole_pool_back(raid_scene, make_raid):
    raid = raid_ended(raid_scene, make_raid(raid_scene, pool=POOL))
    done = raid_settle(tenant=raid_scene.tenant, raid=raid)
    assert (done.payees, done.paid, done.released) == (0, 0, POOL)
    assert group_balance(raid_scene) == GROUP_FUNDS
    assert payouts(raid) == []
    with tenant_context(raid_scene.tenant):
        raid.refresh_from_db()
    assert raid.report_csv.splitlines() == [
        "user_id,x_username,points,verified_tasks,amount,amount_minor,currency"
    ]


def test_fixed_pays_per_verified_task(raid_scene, make_raid, scored):
    raid = make_raid(raid_scene, pool=POOL, formula="fixed", formula_params={"per_task": 1000})
    two = scored(raid_scene, raid, "two", 15, ("verified", "verified"))
    one = scored(raid_scene, raid, "one", 10, ("verified", "failed"))
    raid_settle(tenant=raid_scene.tenant, raid=raid_ended(raid_scene, raid))
    assert (balance(raid_scene, two.user_id), balance(raid_scene, one.user_id)) == (2000, 1000)
    assert group_balance(raid_scene) == GROUP_FUNDS - 3000


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({}, "raid_not_ended"),  # active, ends in an hour
        ({"status": Raid.Status.CANCELLED}, "raid_cancelled"),
        ({"status": Raid.Status.SCHEDULED}, "raid_not_ended"),
    ],
)
def test_an_open_or_cancelled_raid_is_not_settled(raid_scene, make_raid, scored, change, code):
    raid = make_raid(raid_scene, pool=POOL)
    scored(raid_scene, raid, "ann", 5, ("verified",))
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(**change)
    with pytest.raises(ServiceError) as caught:
        raid_settle(tenant=raid_scene.tenant, raid=raid)
    assert (caught.value.code, caught.value.status) == (code, 409)
    assert payouts(raid) == []
    assert Hold.objects.get(pk=raid.hold_id).status == "open"


@pytest.mark.django_db(transaction=True)
def test_two_settlements_at_once_pay_once(raid_scene, make_raid, scored):
    """Two workers (a retried end job, two replicas) settle the same raid at the same
    time: the raid's row lock makes the second wait and replay."""
    import threading

    from django.db import connection

    raid = make_raid(raid_scene, pool=POOL)
    for name, points in (("ann", 3), ("bob", 1)):
        scored(raid_scene, raid, name, points, ("verified",))
    raid = raid_ended(raid_scene, raid)
    start, done, errors = threading.Barrier(2), [], []

    def settle() -> None:
        try:
            start.wait()
            done.append(raid_settle(tenant=raid_scene.tenant, raid=raid))
        except BaseException as exc:  # reported below: neither may fail
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(d.replayed for d in done) == [False, True]
    assert {d.paid for d in done} == {POOL}
    assert sorted(amount for _, amount in payouts(raid)) == [250_000, 750_000]
