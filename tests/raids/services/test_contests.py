"""EXP contests: prizes escrowed at creation, standings from the group's daily XP and
raid points, prizes by rank with the tie rule, the rest back to the group, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from botruntime.models import Job
from community.services.leaderboard import xp_award
from config.errors import ServiceError
from history.models import Entry as HistoryEntry
from history.services import SYSTEM
from notifications.models import OutboxMessage
from raids.models import Contest
from raids.selectors_giveaways import Standing
from raids.services.contests import (
    contest_cancel,
    contest_settle,
    prizes_by_standing,
)
from tests.raids.helpers import GROUP_FUNDS, balance
from wallet.models import Hold


def _xp(scene, user_id: int, xp: int) -> None:
    xp_award(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        user_id=user_id,
        xp=xp,
        day=datetime.now(UTC).date(),
        name=f"user{user_id}",
    )


def test_the_tie_rule_shares_the_prizes_of_the_positions_held_together() -> None:
    standings = [
        Standing(1, 1, "", 50),
        Standing(2, 2, "", 30),
        Standing(2, 3, "", 30),
        Standing(4, 4, "", 20),
    ]
    assert prizes_by_standing([600, 301, 100], standings) == {1: 600, 2: 200, 3: 200}
    assert prizes_by_standing([600, 300], standings) == {1: 600, 2: 150, 3: 150}
    assert prizes_by_standing([10, 5, 1, 1, 1], standings[:1]) == {1: 10}


def test_creation_escrows_the_prizes_and_schedules_the_settlement(raid_scene, make_contest):
    contest = make_contest(raid_scene, [5_000, 3_000])
    assert Hold.objects.get(pk=contest.hold_id).amount == 8_000
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 8_000
    assert contest.status == "active"
    job = Job.objects.get(kind="raids.contest_settle", tenant=raid_scene.tenant)
    assert job.run_at == contest.ends_at
    announced = OutboxMessage.objects.get(event="contest.created", chat_id=raid_scene.chat_id)
    assert announced.text.startswith(f"🏁 EXP contest #{contest.pk}: {contest.title}\n")
    assert f"prizes 5000, 3000 ({contest.currency} minor units)" in announced.text
    created = HistoryEntry.objects.get(action="raids.contest_created", target_id=str(contest.pk))
    assert created.data == {
        "chat_id": raid_scene.chat_id,
        "currency": contest.currency,
        "prizes": [5_000, 3_000],
        "starts_at": contest.starts_at.isoformat(),
        "ends_at": contest.ends_at.isoformat(),
    }


@pytest.mark.parametrize(
    ("prizes", "fields"),
    [
        ([], {}),
        ([0], {}),
        ([5], {"ends_at": datetime(2020, 1, 1, tzinfo=UTC)}),
        ([5], {"starts_at": datetime.now(UTC) - timedelta(days=40)}),
    ],
)
def test_bad_input_is_refused_and_nothing_is_held(raid_scene, prizes, fields, make_contest):
    with pytest.raises(ServiceError) as refused:
        make_contest(raid_scene, prizes, **fields)
    assert refused.value.code == "invalid"
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS
    with tenant_context(raid_scene.tenant):
        assert not Contest.objects.exists()


def test_insufficient_funds_creates_nothing(raid_scene, make_contest):
    with pytest.raises(ServiceError) as refused:
        make_contest(raid_scene, [GROUP_FUNDS, 1])
    assert refused.value.code == "insufficient_funds"
    with tenant_context(raid_scene.tenant):
        assert not Contest.objects.exists()


def test_settlement_ranks_message_xp_plus_raid_points_and_pays_once(
    raid_scene, raid_x, linked, raid_points, make_contest
):
    contest = make_contest(raid_scene, [600, 301, 100])
    _xp(raid_scene, 1, 50)
    _xp(raid_scene, 2, 30)
    _xp(raid_scene, 3, 30)
    _xp(raid_scene, 4, 10)
    erin, _ = linked(raid_scene, raid_x, "erin")
    raid_points(raid_scene, erin, 25)  # settled within the contest: 25 EXP
    with pytest.raises(ServiceError) as early:
        contest_settle(
            tenant=raid_scene.tenant, contest=contest, now=contest.ends_at - timedelta(seconds=1)
        )
    assert early.value.code == "contest_not_due"

    after = contest.ends_at + timedelta(seconds=1)
    settled = contest_settle(tenant=raid_scene.tenant, contest=contest, now=after)
    table = [(row["rank"], row["user_id"], row["xp"], row["prize"]) for row in settled.standings]
    assert table == [
        (1, 1, 50, 600),
        (2, 2, 30, 200),
        (2, 3, 30, 200),
        (4, erin.telegram_id, 25, 0),
        (5, 4, 10, 0),
    ]
    assert [balance(raid_scene, "user", u) for u in (1, 2, 3, 4)] == [600, 200, 200, 0]
    # The split's remainder (1) went back with the hold's rest.
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 1_000 - 1000
    again = contest_settle(tenant=raid_scene.tenant, contest=contest, now=after)
    assert again.standings == settled.standings
    assert balance(raid_scene, "user", 1) == 600
    assert HistoryEntry.objects.filter(action="raids.contest_settled").count() == 1
    assert OutboxMessage.objects.filter(event="contest.settled").count() == 1


def test_unreached_prizes_go_back_and_an_empty_contest_releases_everything(
    raid_scene, make_contest
):
    contest = make_contest(raid_scene, [100, 50, 25])
    _xp(raid_scene, 11, 5)
    contest_settle(
        tenant=raid_scene.tenant, contest=contest, now=contest.ends_at + timedelta(seconds=1)
    )
    assert balance(raid_scene, "user", 11) == 100
    later = datetime.now(UTC) + timedelta(days=2)
    empty = make_contest(raid_scene, [70], starts_at=later, ends_at=later + timedelta(days=1))
    assert empty.status == "scheduled"
    # XP outside the contest's days does not count: nobody placed.
    contest_settle(tenant=raid_scene.tenant, contest=empty, now=empty.ends_at + timedelta(1))
    assert Hold.objects.get(pk=empty.hold_id).status == "cancelled"
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 100


def test_a_cancelled_contest_returns_the_prizes_and_never_settles(raid_scene, make_contest):
    contest = make_contest(raid_scene, [500])
    contest_cancel(tenant=raid_scene.tenant, contest=contest, actor=SYSTEM)
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS
    with pytest.raises(ServiceError) as refused:
        contest_settle(
            tenant=raid_scene.tenant, contest=contest, now=contest.ends_at + timedelta(seconds=1)
        )
    assert refused.value.code == "contest_closed"
