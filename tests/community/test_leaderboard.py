"""Leaderboards: the buffered, one-statement increment (also under concurrency), day / week /
all-time boards, the rollup that keeps all-time totals, /leaderboard in the bot and
the API."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import OperationalError, connection, connections
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from community.group_config import GroupConfig, group_config_load
from community.models import ActivityDay, ActivityTotal
from community.rules import CompiledRules, rules_effective
from community.selectors import leaderboard_top
from community.services.leaderboard import (
    ACTIVITY,
    KEEP_DAYS,
    Activity,
    activity_apply,
    activity_count,
    leaderboard_rollup,
    message_xp,
)
from tests.helpers import scratch_schema


def _config(scene) -> GroupConfig:
    return group_config_load(tenant=scene.tenant, chat_id=scene.chat_id)


def _count(scene, user_id: int, day: date, *, times: int = 1, xp: int = 1, name: str = ""):
    config = _config(scene)
    for _ in range(times):
        activity_count(config=config, user_id=user_id, xp=xp, name=name or f"U{user_id}", day=day)
    ACTIVITY.flush()  # as the bot runtime does


def _board(scene, period: str, today: date, **kwargs) -> list[tuple[int, int, int]]:
    board = leaderboard_top(
        tenant=scene.tenant, chat_id=scene.chat_id, period=period, today=today, **kwargs
    )
    return [(e.user_id, e.messages, e.xp) for e in board.entries]


def test_messages_are_counted_in_memory_and_written_in_one_statement(scene):
    user, other = scene.user("counter"), scene.user("other")
    scene.say(user, "warm up the caches")
    scene.say(other, "warm up the caches")
    say = scene.tg.send_message

    with CaptureQueriesContext(connection) as handling:
        scene.process(
            say(scene.bot_id, scene.chat_id, user["id"], "a" * 60),
            say(scene.bot_id, scene.chat_id, other["id"], "hi"),
            say(scene.bot_id, scene.chat_id, user["id"], "again"),
            flush=False,
        )
    with CaptureQueriesContext(connection) as flushing:
        assert ACTIVITY.flush() == 2  # two rows: one per member

    assert handling.captured_queries == []  # the message path never waits on the database
    statements = [
        q["sql"] for q in flushing.captured_queries if "SAVEPOINT" not in q["sql"].upper()
    ]
    assert len(statements) == 1, statements
    assert statements[0].lstrip().startswith("INSERT INTO") and "ON CONFLICT" in statements[0]
    with tenant_context(scene.tenant):
        rows = {r.user_id: r for r in ActivityDay.objects.all()}
    assert (rows[user["id"]].messages, rows[user["id"]].xp) == (3, 1 + 2 + 1)
    assert (rows[other["id"]].messages, rows[other["id"]].xp) == (2, 2)
    assert (rows[user["id"]].name, rows[user["id"]].username) == ("Counter", "counter")


def test_a_batch_that_cannot_be_written_is_kept_for_the_next_flush(scene, monkeypatch):
    user = scene.user("kept")
    scene.say(user, "warm up the caches")
    scene.process(scene.tg.send_message(scene.bot_id, scene.chat_id, user["id"], "x"), flush=False)
    failing = {"on": True}
    real_apply = ACTIVITY._apply

    def apply(pending):
        if failing["on"]:
            raise OperationalError("the database is down")
        real_apply(pending)

    monkeypatch.setattr(ACTIVITY, "_apply", apply)
    with pytest.raises(OperationalError):
        ACTIVITY.flush()
    scene.process(scene.tg.send_message(scene.bot_id, scene.chat_id, user["id"], "y"), flush=False)
    failing["on"] = False
    assert ACTIVITY.flush() == 1

    with tenant_context(scene.tenant):
        assert ActivityDay.objects.get(user_id=user["id"]).messages == 3


def test_xp_rewards_longer_messages_a_little():
    assert message_xp(text_length=5) == 1
    assert message_xp(text_length=49) == 1
    assert message_xp(text_length=50) == 2
    assert message_xp(text_length=4000) == 2


def test_commands_bots_and_service_messages_are_not_counted(scene):
    user = scene.user("cmd")
    scene.say(user, "/leaderboard")
    scene.user("joiner", join=True)

    with tenant_context(scene.tenant):
        assert not ActivityDay.objects.exists()


def test_leaderboard_off_counts_nothing_and_refuses_the_board(scene, client_for):
    scene.update_group(features={"leaderboard": False})
    user = scene.user("nobody")
    scene.say(user, "hello")

    with tenant_context(scene.tenant):
        assert not ActivityDay.objects.exists()
    response = client_for(scene.tenant).get(f"/api/v1/groups/{scene.chat_id}/leaderboard")
    assert response.status_code == 409 and response.json()["code"] == "leaderboard_disabled"


@pytest.fixture
def scratch_group(django_db_setup, django_db_blocker):
    """A tenant schema committed outside the test transaction, so several connections
    can write to it at once; dropped afterwards."""
    insert = (
        'INSERT INTO "{schema}".community_group (chat_id, title, language, timezone, '
        "welcome_text, features, is_active, created_at, updated_at) "
        "VALUES (-42, 'x', 'en', 'UTC', '', '{{}}', true, now(), now()) RETURNING id"
    )
    with django_db_blocker.unblock(), scratch_schema("mod_concurrency", insert) as group_pk:
        yield "mod_concurrency", group_pk


def test_concurrent_increments_lose_nothing(scratch_group, django_db_blocker):
    schema, group_pk = scratch_group
    config = GroupConfig(
        schema_name=schema,
        group_pk=group_pk,
        chat_id=-42,
        title="x",
        bot_id=None,
        welcome=False,
        welcome_text="",
        leaderboard=True,
        timezone=ZoneInfo("UTC"),
        admin_ids=frozenset(),
        rules=CompiledRules.build(rules_effective(None, enabled=False)),
    )
    day = date(2030, 1, 1)
    threads, per_thread = 8, 40
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                # Half the threads on one user: every increment hits the same row.
                user_id = 1 if n % 2 == 0 else 100 + (i % 3)
                # Each increment its own statement, from 8 connections at once.
                key = (config.schema_name, config.group_pk, user_id, day)
                activity_apply({key: Activity(1, 2)})
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with connection.cursor() as cursor:
            cursor.execute(
                f'SELECT user_id, messages, xp FROM "{schema}".community_activityday '
                "ORDER BY user_id"
            )
            rows = cursor.fetchall()

    assert errors == []
    assert sum(messages for _, messages, _ in rows) == threads * per_thread
    assert dict((u, m) for u, m, _ in rows)[1] == (threads // 2) * per_thread
    assert all(xp == 2 * messages for _, messages, xp in rows)


def test_day_week_and_all_time_boards(scene):
    today = date(2030, 6, 15)
    _count(scene, 1, today, times=3)  # today
    _count(scene, 2, today, times=1, xp=5)
    _count(scene, 2, today - timedelta(days=6), times=4)  # still this week
    _count(scene, 3, today - timedelta(days=7), times=10)  # last week: all time only
    _count(scene, 1, today + timedelta(days=1), times=9)  # "tomorrow": never counted yet

    assert _board(scene, "day", today) == [(2, 1, 5), (1, 3, 3)]
    assert _board(scene, "week", today) == [(2, 5, 9), (1, 3, 3)]
    assert _board(scene, "all", today)[:2] == [(1, 12, 12), (3, 10, 10)]
    assert _board(scene, "all", today, limit=1) == [(1, 12, 12)]


def test_ties_rank_by_messages_then_user(scene):
    today = date(2030, 6, 15)
    _count(scene, 30, today, times=1, xp=2)
    _count(scene, 20, today, times=2, xp=1)
    _count(scene, 10, today, times=2, xp=1)

    assert [u for u, _, _ in _board(scene, "day", today)] == [10, 20, 30]


def test_the_board_shows_the_latest_name(scene):
    today = date(2030, 6, 15)
    _count(scene, 7, today - timedelta(days=2), name="Old Name")
    _count(scene, 7, today, name="New Name")

    board = leaderboard_top(tenant=scene.tenant, chat_id=scene.chat_id, period="week", today=today)

    assert [e.name for e in board.entries] == ["New Name"]


def test_rollup_keeps_all_time_boards_exact_and_prunes_old_days(scene):
    start = date(2030, 1, 1)
    for offset in range(60):
        _count(scene, 1 + offset % 3, start + timedelta(days=offset), times=1 + offset % 2)
    today = start + timedelta(days=59)
    before = _board(scene, "all", today)

    now = datetime(2030, 3, 1, 12, tzinfo=UTC)  # = start + 59 days
    result = leaderboard_rollup(tenant=scene.tenant, now=now)
    again = leaderboard_rollup(tenant=scene.tenant, now=now)  # idempotent

    assert result.rolled_through == date(2030, 2, 26)  # UTC today - 3 days
    assert result.rows_folded == 3 and again.rows_folded == 0
    assert _board(scene, "all", today) == before
    with tenant_context(scene.tenant):
        days = sorted(ActivityDay.objects.values_list("day", flat=True).distinct())
        totals = ActivityTotal.objects.count()
    assert days[0] == date(2030, 3, 1) - timedelta(days=KEEP_DAYS)  # older days pruned
    assert totals == 3
    # The week board still reads the (unpruned) recent days.
    assert sum(m for _, m, _ in _board(scene, "week", today)) == sum(
        1 + offset % 2 for offset in range(53, 60)
    )

    # Days counted after a rollup still show, once.
    _count(scene, 1, today, times=5)
    leaderboard_rollup(tenant=scene.tenant, now=now + timedelta(days=5))
    after = dict((u, m) for u, m, _ in _board(scene, "all", today))
    assert after[1] == dict((u, m) for u, m, _ in before)[1] + 5


def test_day_follows_the_groups_time_zone(scene):
    scene.update_group(timezone="Pacific/Kiritimati")  # UTC+14
    config = _config(scene)

    # 11:00 UTC on June 1st is already June 2nd in Kiritimati.
    assert config.today(datetime(2030, 6, 1, 11, tzinfo=UTC)) == date(2030, 6, 2)


def test_leaderboard_command_replies_with_the_top_ten(scene):
    users = [scene.user(f"player{n}") for n in range(12)]
    for n, user in enumerate(users):
        for _ in range(n + 1):
            scene.say(user, "gm")

    scene.say(users[0], "/leaderboard day")

    reply = scene.bot_messages()[-1]
    lines = reply["text"].splitlines()
    assert lines[0] == "Leaderboard — today in Fans"
    assert lines[1] == "1. Player11 — 12 XP (12 messages)"
    assert lines[10] == "10. Player2 — 3 XP (3 messages)"
    assert len(lines) == 11
    assert reply["reply_to_message"]["from"]["id"] == users[0]["id"]


def test_leaderboard_command_usage(scene):
    user = scene.user("asker")
    scene.say(user, "/leaderboard month")

    assert scene.bot_messages()[-1]["text"].startswith("Use /leaderboard [day|week|all]")


def test_leaderboard_command_defaults_to_the_week_and_says_when_empty(scene):
    user = scene.user("first")
    scene.say(user, "/leaderboard")

    assert scene.bot_messages()[-1]["text"] == (
        "Leaderboard — the last 7 days in Fans\nNo messages counted yet."
    )


def test_leaderboard_api_for_any_member(scene, client_for):
    fan = scene.user("fan")
    for _ in range(3):
        scene.say(fan, "hello")
    client = client_for(scene.tenant, user_id=555001, username="reader")

    response = client.get(f"/api/v1/groups/{scene.chat_id}/leaderboard?period=day")

    assert response.status_code == 200
    body = response.json()
    assert body["chat_id"] == scene.chat_id and body["period"] == "day"
    assert body["since"] == body["today"]
    assert body["results"] == [
        {
            "rank": 1,
            "user_id": fan["id"],
            "name": "Fan",
            "username": "fan",
            "messages": 3,
            "xp": 3,
        }
    ]
    assert client.get(f"/api/v1/groups/{scene.chat_id}/leaderboard").json()["period"] == "week"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [("period=month", 400, "invalid_choice"), ("limit=0", 400, "min_value")],
)
def test_leaderboard_api_refuses_bad_parameters(scene, client_for, query, status, code):
    response = client_for(scene.tenant).get(f"/api/v1/groups/{scene.chat_id}/leaderboard?{query}")

    assert response.status_code == status and response.json()["code"] == code


def test_leaderboard_api_unknown_group(scene, client_for):
    response = client_for(scene.tenant).get("/api/v1/groups/-1009/leaderboard")

    assert response.status_code == 404 and response.json()["code"] == "group_not_found"


# ---- XP from elsewhere (raid points) -----------------------------------------------------
def test_xp_award_adds_to_the_day_and_all_time_boards_once_even_on_a_rolled_day(scene):
    from community.services.leaderboard import xp_award, xp_award_many

    today = date(2030, 3, 1)
    _count(scene, 1, today, times=2)
    xp_award(tenant=scene.tenant, chat_id=scene.chat_id, user_id=1, xp=40, day=today)
    xp_award_many(
        tenant=scene.tenant, chat_id=scene.chat_id, day=today, awards=[(2, 5, "B"), (2, 5, "")]
    )
    assert _board(scene, "day", today) == [(1, 2, 42), (2, 0, 10)]
    with tenant_context(scene.tenant):  # the name of the latest message stays
        assert ActivityDay.objects.get(user_id=1).name == "U1"

    leaderboard_rollup(tenant=scene.tenant, now=datetime(2030, 3, 10, tzinfo=UTC))
    # A day already folded into the totals: the all-time board still counts it once.
    xp_award(tenant=scene.tenant, chat_id=scene.chat_id, user_id=1, xp=8, day=today)
    later = date(2030, 3, 10)
    assert dict((u, x) for u, _, x in _board(scene, "all", later)) == {1: 50, 2: 10}
    leaderboard_rollup(tenant=scene.tenant, now=datetime(2030, 3, 11, tzinfo=UTC))
    assert dict((u, x) for u, _, x in _board(scene, "all", later)) == {1: 50, 2: 10}


def test_xp_award_refuses_negative_xp_and_unknown_groups(scene):
    from community.services.leaderboard import xp_award
    from config.errors import ServiceError

    with pytest.raises(ValueError, match="never taken"):
        xp_award(tenant=scene.tenant, chat_id=scene.chat_id, user_id=1, xp=-1, day=date.today())
    with pytest.raises(ServiceError) as refused:
        xp_award(tenant=scene.tenant, chat_id=-1, user_id=1, xp=1, day=date.today())
    assert refused.value.code == "group_not_found"
