"""Giveaways end to end on the sandbox Telegram and X: escrow at creation with the
commitment announced, entry conditions as Telegram and X confirm them, the draw paid
exactly once and re-runnable from what it published."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import psycopg2
import psycopg2.errors
import pytest
from django_tenants.utils import tenant_context

import raids.services.giveaways as service
from accounts.models import TelegramUser
from botruntime.models import Job
from config.dbserver import connection_url
from config.encryption import decrypt
from config.errors import ServiceError
from history.models import Entry as HistoryEntry
from notifications.models import OutboxMessage
from raids.giveaways import verify
from raids.models import Entry, Giveaway
from raids.services.giveaways import giveaway_cancel, giveaway_draw, giveaway_enter
from tests.helpers import scratch_schema
from tests.raids.helpers import CURRENCY, GROUP_FUNDS, balance
from wallet.currencies import amount_format
from wallet.models import Account, Hold


def _entrants(scene, giveaway, n: int) -> list[TelegramUser]:
    users = []
    for i in range(n):
        user, _ = TelegramUser.objects.get_or_create(
            telegram_id=8_100_000 + giveaway.pk * 100 + i,
            defaults={"first_name": f"E{i}", "last_seen": datetime.now(UTC)},
        )
        giveaway_enter(tenant=scene.tenant, giveaway=giveaway, user=user)
        users.append(user)
    return users


def _after(giveaway) -> datetime:
    return giveaway.draw_at + timedelta(seconds=1)


def test_creation_escrows_the_pool_publishes_the_commitment_and_schedules_the_draw(
    raid_scene, make_giveaway
):
    giveaway = make_giveaway(raid_scene, pool=7_000_000)
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 7_000_000
    hold = Hold.objects.get(pk=giveaway.hold_id)
    assert (hold.amount, hold.status) == (7_000_000, "open")
    # The secret is stored encrypted; its SHA-256 is the published commitment.
    secret = decrypt(giveaway.secret)
    assert giveaway.secret != secret and len(bytes.fromhex(secret)) == 32
    assert hashlib.sha256(bytes.fromhex(secret)).hexdigest() == giveaway.commitment
    announced = OutboxMessage.objects.get(
        tenant=raid_scene.tenant, chat_id=raid_scene.chat_id, event="giveaway.created"
    )
    assert announced.text.startswith(f"🎁 Giveaway #{giveaway.pk}: {giveaway.title}\n")
    assert announced.text.endswith(f"the draw): {giveaway.commitment}")
    job = Job.objects.get(kind="raids.giveaway_draw", tenant=raid_scene.tenant)
    assert job.run_at == giveaway.draw_at and job.payload == {"giveaway_id": giveaway.pk}
    created = HistoryEntry.objects.get(action="raids.giveaway_created", target_id=str(giveaway.pk))
    assert created.data == {  # what was promised, never the secret
        "chat_id": raid_scene.chat_id,
        "currency": giveaway.currency,
        "pool_amount": 7_000_000,
        "winners": giveaway.winners,
        "draw_at": giveaway.draw_at.isoformat(),
        "commitment": giveaway.commitment,
    }


def test_insufficient_funds_is_a_clear_error_and_nothing_is_created(raid_scene, make_giveaway):
    with pytest.raises(ServiceError) as refused:
        make_giveaway(raid_scene, pool=GROUP_FUNDS + 1)
    assert refused.value.code == "insufficient_funds"
    # What an admin reads in the group: the sum in the currency, no account ids.
    needed = amount_format(GROUP_FUNDS + 1, CURRENCY)
    assert refused.value.message == f"not enough funds: {needed} needed"
    with tenant_context(raid_scene.tenant):
        assert not Giveaway.objects.exists()
    assert not Job.objects.filter(kind="raids.giveaway_draw").exists()
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"winners": 0}, "winners"),
        ({"pool": 1, "winners": 2}, "pool_amount"),
        ({"draw_at": datetime(2020, 1, 1, tzinfo=UTC)}, "draw_at"),
        ({"title": " "}, "title"),
    ],
)
def test_bad_input_is_refused_before_any_money_moves(raid_scene, make_giveaway, fields, message):
    with pytest.raises(ServiceError) as refused:
        make_giveaway(raid_scene, **fields)
    assert refused.value.code == "invalid" and message in str(refused.value)
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS


def test_each_entry_condition_is_refused_with_its_reason(
    raid_scene, raid_x, linked, make_giveaway, raid_points
):
    giveaway = make_giveaway(raid_scene, members_only=True, min_raid_points=30, x_linked=True)
    outsider, _ = linked(raid_scene, raid_x, "otto", member=False)
    raid_points(raid_scene, outsider, 50)
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=outsider)
    assert refused.value.code == "not_a_member"

    poor, _ = linked(raid_scene, raid_x, "pia")
    raid_points(raid_scene, poor, 20)
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=poor)
    assert refused.value.code == "not_enough_raid_points"
    assert "you have 20" in str(refused.value)

    unlinked = TelegramUser.objects.create(telegram_id=8_200_001, last_seen=datetime.now(UTC))
    raid_scene.tg.add_user(8_200_001, "Una")
    raid_scene.tg.set_member(raid_scene.chat_id, 8_200_001, "member")
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=unlinked)
    assert refused.value.code == "x_not_linked"

    # Points of raids not settled do not count; settled ones add up.
    raid_points(raid_scene, poor, 10)
    entry = giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=poor)
    assert entry.user_id == poor.telegram_id
    with tenant_context(raid_scene.tenant):
        assert list(Entry.objects.values_list("user_id", flat=True)) == [poor.telegram_id]


def test_a_member_who_left_the_group_is_refused(raid_scene, raid_x, linked, make_giveaway):
    giveaway = make_giveaway(raid_scene, members_only=True)
    leaver, _ = linked(raid_scene, raid_x, "lena")
    raid_scene.tg.set_member(raid_scene.chat_id, leaver.telegram_id, "left")
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=leaver)
    assert refused.value.code == "not_a_member"


def test_one_entry_per_user_and_entries_close_at_the_draw_time(raid_scene, make_giveaway):
    giveaway = make_giveaway(raid_scene)
    (user,) = _entrants(raid_scene, giveaway, 1)
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=user)
    assert refused.value.code == "already_entered"
    late = TelegramUser.objects.create(telegram_id=8_200_002, last_seen=datetime.now(UTC))
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=late, now=giveaway.draw_at)
    assert refused.value.code == "giveaway_closed"


def test_the_draw_pays_equal_shares_returns_the_rest_and_publishes_a_verifiable_result(
    raid_scene, make_giveaway
):
    giveaway = make_giveaway(raid_scene, pool=10_000_001, winners=3)
    users = _entrants(raid_scene, giveaway, 8)
    with pytest.raises(ServiceError) as early:
        giveaway_draw(
            tenant=raid_scene.tenant, giveaway=giveaway, now=giveaway.draw_at - timedelta(seconds=1)
        )
    assert early.value.code == "draw_not_due"

    outcome = giveaway_draw(tenant=raid_scene.tenant, giveaway=giveaway, now=_after(giveaway))
    assert len(outcome.winners) == 3 and not outcome.replayed
    assert set(outcome.winners) <= {u.telegram_id for u in users}
    for winner in outcome.winners:
        assert balance(raid_scene, "user", winner) == 3_333_333
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 3 * 3_333_333
    with tenant_context(raid_scene.tenant):
        drawn = Giveaway.objects.get(pk=giveaway.pk)
        ranks = dict(Entry.objects.filter(rank__isnull=False).values_list("user_id", "rank"))
    assert drawn.status == "drawn" and drawn.secret == drawn.result["secret"]
    assert ranks == {w: i for i, w in enumerate(outcome.winners, start=1)}
    assert verify(drawn.result).ok
    assert drawn.result["entrants"] == sorted(u.telegram_id for u in users)
    announcement = OutboxMessage.objects.get(chat_id=raid_scene.chat_id, event="giveaway.drawn")
    assert drawn.result["secret"] in announcement.text
    assert OutboxMessage.objects.filter(event="giveaway.won").count() == 3
    assert HistoryEntry.objects.filter(action="raids.giveaway_drawn").count() == 1


def test_a_crash_mid_draw_leaves_nothing_and_the_rerun_pays_exactly_once(
    raid_scene, make_giveaway, monkeypatch
):
    giveaway = make_giveaway(raid_scene, pool=9_000_000, winners=3)
    _entrants(raid_scene, giveaway, 5)

    def crash(*args, **kwargs):
        raise RuntimeError("killed after the payouts")

    # The process dies after the wallet settled, before the draw's own writes.
    monkeypatch.setattr(service, "_announce_draw", crash)
    with pytest.raises(RuntimeError):
        giveaway_draw(tenant=raid_scene.tenant, giveaway=giveaway, now=_after(giveaway))
    assert Hold.objects.get(pk=giveaway.hold_id).status == "open"
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 9_000_000
    monkeypatch.undo()

    first = giveaway_draw(tenant=raid_scene.tenant, giveaway=giveaway, now=_after(giveaway))
    again = giveaway_draw(tenant=raid_scene.tenant, giveaway=giveaway, now=_after(giveaway))
    assert again.replayed and again.winners == first.winners
    paid = Account.objects.filter(tenant=raid_scene.tenant, owner_kind="user", balance__gt=0)
    assert sorted(a.owner_id for a in paid) == sorted(first.winners)
    assert all(a.balance == 3_000_000 for a in paid)
    assert Hold.objects.get(pk=giveaway.hold_id).status == "settled"


def test_fewer_entrants_than_winners_all_win_and_none_releases_the_pool(raid_scene, make_giveaway):
    few = make_giveaway(raid_scene, pool=10_000_000, winners=5)
    users = _entrants(raid_scene, few, 2)
    outcome = giveaway_draw(tenant=raid_scene.tenant, giveaway=few, now=_after(few))
    assert sorted(outcome.winners) == sorted(u.telegram_id for u in users)
    assert balance(raid_scene, "user", users[0].telegram_id) == 5_000_000

    empty = make_giveaway(raid_scene, pool=4_000_000, winners=5)
    outcome = giveaway_draw(tenant=raid_scene.tenant, giveaway=empty, now=_after(empty))
    assert outcome.winners == []
    assert Hold.objects.get(pk=empty.hold_id).status == "cancelled"
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS - 10_000_000


def test_a_cancelled_giveaway_returns_the_pool_and_takes_no_entries(raid_scene, make_giveaway):
    giveaway = make_giveaway(raid_scene, pool=3_000_000)
    giveaway_cancel(tenant=raid_scene.tenant, giveaway=giveaway, actor=service.SYSTEM)
    assert balance(raid_scene, "group", raid_scene.chat_id) == GROUP_FUNDS
    user = TelegramUser.objects.create(telegram_id=8_200_003, last_seen=datetime.now(UTC))
    with tenant_context(raid_scene.tenant):
        giveaway.refresh_from_db()
    with pytest.raises(ServiceError) as refused:
        giveaway_enter(tenant=raid_scene.tenant, giveaway=giveaway, user=user)
    assert refused.value.code == "giveaway_closed"
    with pytest.raises(ServiceError) as refused:
        giveaway_draw(tenant=raid_scene.tenant, giveaway=giveaway, now=_after(giveaway))
    assert refused.value.code == "giveaway_closed"


# ---- the row locks that close entries at the draw ----------------------------------------
@pytest.fixture
def scratch_giveaway(django_db_setup, django_db_blocker):
    """A giveaway row in a tenant schema committed outside the test transaction, so other
    connections can lock it; dropped afterwards."""
    insert = (
        'INSERT INTO "{schema}".raids_giveaway (chat_id, title, currency, pool_amount, '
        "winners, members_only, min_raid_points, x_linked, status, commitment, secret, "
        "draw_at, result, created_at) VALUES (-42, 'x', 'USDT', 10, 1, false, 0, false, "
        "'open', '', '', now(), '{{}}', now()) RETURNING id"
    )
    with django_db_blocker.unblock(), scratch_schema("raids_giveaway_locks", insert) as pk:
        yield "raids_giveaway_locks", pk, connection_url()


def test_entries_lock_the_giveaway_together_and_the_draw_waits_for_them(scratch_giveaway):
    """Entering takes the row FOR SHARE (many entries at once); the draw and a cancel take
    it FOR UPDATE, so they wait for entries in flight and entries wait for them (then see
    the new status). NOWAIT turns each wait into an error here."""
    schema, pk, url = scratch_giveaway
    sessions = [psycopg2.connect(url, options=f"-c search_path={schema},public") for _ in range(3)]
    try:
        entering, other_entry, drawing = (s.cursor() for s in sessions)
        entering.execute(service._LOCK_SQL[True], [pk])
        other_entry.execute(service._LOCK_SQL[True] + " NOWAIT", [pk])  # shared: no wait
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            drawing.execute(service._LOCK_SQL[False] + " NOWAIT", [pk])
        sessions[2].rollback()
        for session in sessions[:2]:
            session.rollback()
        drawing.execute(service._LOCK_SQL[False], [pk])
        with pytest.raises(psycopg2.errors.LockNotAvailable):
            entering.execute(service._LOCK_SQL[True] + " NOWAIT", [pk])
    finally:
        for session in sessions:
            session.close()


def test_a_pool_is_read_from_its_own_tenants_holds_only(raid_scene, make_giveaway, make_tenant):
    """The hold table is shared: a hold id that names another tenant's hold finds nothing."""
    from raids.services.giveaways import hold_of
    from wallet.models import Hold

    giveaway = make_giveaway(raid_scene)
    assert hold_of(tenant=raid_scene.tenant, hold_id=giveaway.hold_id).pk == giveaway.hold_id
    with pytest.raises(Hold.DoesNotExist):
        hold_of(tenant=make_tenant(), hold_id=giveaway.hold_id)
