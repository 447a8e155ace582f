"""KOL tracking against the sandbox X on a ManualClock: posts discovered once from the
newest known, tagged with their campaigns, snapshots at +1 h, +6 h, +24 h, +72 h and
+7 d (then no more reads), up to 100 posts per lookup, impressions where X gives them,
and a round the budget refuses ends early without losing anything."""

from __future__ import annotations

from datetime import timedelta

import tweepy
from django_tenants.utils import tenant_context

from history.services import Actor
from tests.xfeed.helpers import clock_now, kol_add
from xclient.metering import budget_set
from xclient.models import Usage
from xfeed.models import Kol, KolFollowers, KolPost, KolSnapshot
from xfeed.services.kol_tracking import (
    SCHEDULE,
    _metrics,
    campaigns_of,
    kol_track,
    next_snapshot,
)
from xfeed.services.kols import kol_remove

HOUR = 3600


def timelines(kol_x) -> list[dict]:
    return [c for c in kol_x.calls() if c["path"].endswith("/tweets") and "/users/" in c["path"]]


def lookups(kol_x) -> list[dict]:
    return [c for c in kol_x.calls() if c["path"] == "/2/tweets"]


def snapshots(tenant, post_id: int) -> list[KolSnapshot]:
    with tenant_context(tenant):
        return list(KolSnapshot.objects.filter(post__post_id=post_id).order_by("taken_at"))


def post_of(tenant, post_id: int) -> KolPost:
    with tenant_context(tenant):
        return KolPost.objects.get(post_id=post_id)


def test_campaign_tags_count_as_words_hashtags_and_cashtags():
    tags = ["launch", "q3_push", "bb"]
    assert campaigns_of("Big #Launch today", tags) == ["launch"]
    assert campaigns_of("launch day, $BB to the moon", tags) == ["launch", "bb"]
    assert campaigns_of("#q3_push!", tags) == ["q3_push"]
    assert campaigns_of("launches and #q3_pushed and bbq", tags) == []


def test_the_schedule_is_the_next_point_ahead_then_over(kol_clock):
    posted = clock_now(kol_clock)
    assert next_snapshot(posted, posted) == posted + SCHEDULE[0]
    assert next_snapshot(posted, posted + timedelta(hours=30)) == posted + timedelta(hours=72)
    assert next_snapshot(posted, posted + timedelta(days=7)) is None


def test_impressions_are_null_when_x_does_not_return_them():
    counted = tweepy.Tweet(
        {
            "id": "1",
            "text": "gm",
            "edit_history_tweet_ids": ["1"],
            "public_metrics": {"like_count": 3},
        }
    )
    assert _metrics(counted) == {
        "likes": 3,
        "reposts": 0,
        "replies": 0,
        "quotes": 0,
        "impressions": None,
    }
    seen = tweepy.Tweet(
        {
            "id": "1",
            "text": "gm",
            "edit_history_tweet_ids": ["1"],
            "public_metrics": {"impression_count": 9},
        }
    )
    assert _metrics(seen)["impressions"] == 9


def test_a_week_of_snapshots_on_schedule_then_none(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_x.add_account("fan")
    kol_add(tenant, "alice", campaigns=["launch"])
    tagged = int(kol_x.post("alice", "gm, #launch is live")["id"])
    other = int(kol_x.post("alice", "just coffee")["id"])
    posted = clock_now(kol_clock)
    kol_clock.advance(600)

    first = kol_track(tenant=tenant, now=clock_now(kol_clock))
    assert (first.discovered, first.snapshots, first.refused) == (2, 0, "")
    assert post_of(tenant, tagged).campaigns == ["launch"]
    assert post_of(tenant, other).campaigns == []
    assert post_of(tenant, tagged).tracked_until == posted + timedelta(days=7)
    assert post_of(tenant, tagged).next_snapshot_at == posted + timedelta(hours=1)
    assert len(snapshots(tenant, tagged)) == 1  # from the timeline, already paid for
    assert lookups(kol_x) == []

    kol_x.like("fan", str(tagged))
    kol_x.view_post(str(tagged), impressions=40)
    taken = []
    for step in SCHEDULE:
        kol_clock.advance((posted + step - clock_now(kol_clock)).total_seconds() + 60)
        result = kol_track(tenant=tenant, now=clock_now(kol_clock))
        assert (result.discovered, result.snapshots) == (0, 2)
        taken.append(snapshots(tenant, tagged)[-1])
    assert len(lookups(kol_x)) == len(SCHEDULE)  # both posts in one call each round
    assert [s.taken_at - posted for s in taken] == [s + timedelta(minutes=1) for s in SCHEDULE]
    assert (taken[0].likes, taken[0].impressions) == (1, 40)
    assert post_of(tenant, tagged).next_snapshot_at is None

    kol_clock.advance(HOUR * 24)
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).snapshots == 0
    assert len(lookups(kol_x)) == len(SCHEDULE)  # past tracked_until: no more reads


def test_a_late_round_takes_one_snapshot_and_moves_to_the_next_point(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_add(tenant, "alice")
    post_id = int(kol_x.post("alice", "gm")["id"])
    posted = clock_now(kol_clock)
    kol_track(tenant=tenant, now=clock_now(kol_clock))
    kol_clock.advance(30 * HOUR)  # +1 h, +6 h and +24 h all missed
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).snapshots == 1
    assert post_of(tenant, post_id).next_snapshot_at == posted + timedelta(hours=72)


def test_new_posts_are_found_from_the_newest_known_once(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_x.add_account("bob")
    kol_add(tenant, "alice")
    first = int(kol_x.post("alice", "one")["id"])
    kol_x.repost("alice", kol_x.post("bob", "bob's")["id"])  # not alice's post: skipped
    kol_track(tenant=tenant, now=clock_now(kol_clock))
    kol_clock.advance(60)
    second = int(kol_x.post("alice", "two")["id"])
    again = kol_track(tenant=tenant, now=clock_now(kol_clock))
    assert again.discovered == 1
    assert timelines(kol_x)[-1]["query"]["since_id"] == str(first)
    with tenant_context(tenant):
        assert sorted(KolPost.objects.values_list("post_id", flat=True)) == [first, second]


def test_lookups_take_at_most_100_posts_each(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_add(tenant, "alice")
    for n in range(130):
        kol_x.post("alice", f"post {n}")
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).discovered == 130
    kol_clock.advance(HOUR + 60)
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).snapshots == 130
    assert [c["query"]["ids"].count(",") + 1 for c in lookups(kol_x)] == [100, 30]


def test_a_refused_round_stops_and_the_next_one_catches_up(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_x.add_account("bob")
    alice, bob = kol_add(tenant, "alice"), kol_add(tenant, "bob")
    kept = int(kol_x.post("alice", "alice's")["id"])
    kol_track(tenant=tenant, now=clock_now(kol_clock))
    budget_set(tenant=tenant, monthly_cap_micros=1, actor=Actor.system())  # spent already
    waiting = int(kol_x.post("bob", "bob's")["id"])
    kol_clock.advance(HOUR + 60)
    calls_before = len(kol_x.calls())

    refused = kol_track(tenant=tenant, now=clock_now(kol_clock))
    assert (refused.discovered, refused.snapshots, refused.refused) == (0, 0, "x_cap_reached")
    assert len(kol_x.calls()) == calls_before  # nothing reached X
    assert post_of(tenant, kept).next_snapshot_at < clock_now(kol_clock)  # still due

    budget_set(tenant=tenant, monthly_cap_micros=None, actor=Actor.system())
    caught_up = kol_track(tenant=tenant, now=clock_now(kol_clock))
    assert (caught_up.discovered, caught_up.snapshots, caught_up.refused) == (1, 1, "")
    assert post_of(tenant, waiting).kol_id == bob.pk
    assert len(snapshots(tenant, kept)) == 2
    assert alice.pk != bob.pk


def test_removed_kols_are_not_read(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol = kol_add(tenant, "alice")
    post_id = int(kol_x.post("alice", "gm")["id"])
    kol_track(tenant=tenant, now=clock_now(kol_clock))
    kol_remove(tenant=tenant, kol_id=kol.pk, actor=Actor.system())
    kol_x.post("alice", "later")
    kol_clock.advance(HOUR + 60)
    before = len(kol_x.calls())
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).discovered == 0
    assert len(kol_x.calls()) == before
    assert post_of(tenant, post_id).next_snapshot_at is None


def test_a_round_run_twice_at_the_same_time_stores_each_snapshot_once(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_add(tenant, "alice")
    post_id = int(kol_x.post("alice", "gm")["id"])
    kol_track(tenant=tenant, now=clock_now(kol_clock))
    kol_clock.advance(HOUR + 60)
    now = clock_now(kol_clock)
    kol_track(tenant=tenant, now=now)
    with tenant_context(tenant):
        KolPost.objects.filter(post_id=post_id).update(next_snapshot_at=now)  # as if replayed
    assert kol_track(tenant=tenant, now=now).snapshots == 0
    assert len(snapshots(tenant, post_id)) == 2


def users_lookups(kol_x) -> list[dict]:
    return [c for c in kol_x.calls() if c["path"] == "/2/users"]


def readings(tenant) -> list[tuple[str, str, int]]:
    with tenant_context(tenant):
        return [
            (r.kol.username, r.day.isoformat(), r.followers)
            for r in KolFollowers.objects.select_related("kol").order_by("kol__username", "day")
        ]


def test_followers_are_read_once_a_utc_day_per_active_kol(tenant, kol_x, kol_clock):
    for name in ("alice", "bob", "fan"):
        kol_x.add_account(name)
    kol_x.follow("fan", "alice")
    kol_add(tenant, "alice")
    gone = kol_add(tenant, "bob")
    kol_remove(tenant=tenant, kol_id=gone.pk, actor=Actor.system())
    first = clock_now(kol_clock).replace(hour=1)  # a round's now sets the UTC day
    assert kol_track(tenant=tenant, now=first).followers == 1
    assert readings(tenant) == [("alice", first.date().isoformat(), 1)]  # bob was removed
    kol_x.follow("bob", "alice")
    assert kol_track(tenant=tenant, now=first + timedelta(hours=20)).followers == 0
    assert len(users_lookups(kol_x)) == 1  # the same UTC day: not read again
    next_day = first + timedelta(hours=24)
    assert kol_track(tenant=tenant, now=next_day).followers == 1
    assert readings(tenant)[-1] == ("alice", next_day.date().isoformat(), 2)


def test_followers_are_read_100_kols_at_a_time_billed_as_user_reads(tenant, kol_x, kol_clock):
    accounts = [kol_x.add_account(f"kol{n:03d}") for n in range(130)]
    with tenant_context(tenant):
        Kol.objects.bulk_create(
            Kol(x_user_id=int(a["id"]), username=a["username"]) for a in accounts
        )
    assert kol_track(tenant=tenant, now=clock_now(kol_clock)).followers == 130
    assert [c["query"]["ids"].count(",") + 1 for c in users_lookups(kol_x)] == [100, 30]
    assert Usage.objects.get(tenant=tenant).user_reads == 130


def test_a_cap_that_cannot_pay_for_the_readings_refuses_them_before_x(tenant, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_add(tenant, "alice")
    budget_set(tenant=tenant, monthly_cap_micros=1, actor=Actor.system())
    before = len(kol_x.calls())
    result = kol_track(tenant=tenant, now=clock_now(kol_clock))
    assert (result.followers, result.refused) == (0, "x_cap_reached")
    assert len(kol_x.calls()) == before and readings(tenant) == []
