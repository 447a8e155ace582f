"""The platform's filtered stream against the sandbox X over HTTP (real tweepy): every
community's compiled queries become rules tagged with their owner and are kept in sync
(stale ones deleted, in as few calls as possible; a query X refuses does not block the
others); communities with their own X app, past X's rule limit or at their cap stay off
it; a post is routed by its rules' tags to every community it is for; after a forced
disconnect or a restart, posts made during the gap are backfilled from the cursors as
they were before it, and every post is forwarded exactly once; during an open gap the
stream moves no cursor."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from history.services import Actor
from sandbox.x import Limits
from tests.xfeed.helpers import Feed, make_feed
from xclient.credentials import credential_app_set
from xclient.metering import budget_set, usage_charge
from xclient.models import RateWindow
from xclient.reader import PLATFORM_APP
from xclient.selectors import usage_summary
from xfeed import stream
from xfeed.models import Account, Cursor, Forward, Forwarding, MentionRule, Post
from xfeed.notices import EVENT_POST
from xfeed.stream import StreamWorker, rule_tag, stream_plan, tag_owner

RULES_PATH = "/2/tweets/search/stream/rules"
SEARCH = "GET /2/tweets/search/recent"
X_LIMITS = Limits.off()


@pytest.fixture
def x(platform_x):
    return platform_x


@pytest.fixture
def worker(x) -> Iterator[Callable[..., StreamWorker]]:
    """``worker()``: a stream worker on the sandbox, stopped after the test."""
    made: list[StreamWorker] = []

    def make(**options: Any) -> StreamWorker:
        made.append(StreamWorker(**options))
        return made[-1]

    yield make
    for w in made:
        w.stop()
        assert not w.alive


def follow(tenant, x, username: str, *, chat_id: int = -100) -> Account:
    user = x.add_account(username) if username not in _accounts(x) else _accounts(x)[username]
    with tenant_context(tenant):
        account, _ = Account.objects.get_or_create(
            x_user_id=int(user["id"]),
            defaults={"username": username, "resolved_at": datetime.now(UTC)},
        )
        Forwarding.objects.get_or_create(chat_id=chat_id, account=account)
    return account


def _accounts(x) -> dict[str, dict]:
    return {a["username"]: a for a in x.snapshot()["accounts"]}


def x_rules(x) -> dict[str, str]:
    """The platform app's rules on X: tag -> value."""
    return {r.tag or "": r.value for r in x.streams.rules.get(PLATFORM_APP, [])}


def rule_calls(x) -> list[str]:
    return [c["method"] for c in x.calls(path=RULES_PATH)]


def test_tags_name_the_community_and_its_query():
    assert rule_tag(12, "forward:abc") == "t12:forward:abc"
    assert tag_owner("t12:forward:abc") == (12, "forward:abc")
    assert tag_owner("forward:abc") is None
    assert tag_owner("tx:forward:abc") is None
    assert tag_owner("t12") is None


def test_rules_are_synced_and_resynced_after_a_change(x, make_tenant, worker):
    a, b = make_tenant(), make_tenant()
    follow(a, x, "project")
    with tenant_context(b):
        rule = MentionRule.objects.create(chat_id=-200, name="brand", keywords=["bragabot"])
    w = worker()
    first = w.sync()
    assert first is not None and (first.added, first.deleted) == (2, 0)
    rules = x_rules(x)
    [tag_a] = [t for t in rules if t.startswith(f"t{a.pk}:forward:")]
    [tag_b] = [t for t in rules if t.startswith(f"t{b.pk}:mention:")]
    assert rules[tag_a].startswith("from:") and "bragabot" in rules[tag_b]
    assert rule_calls(x) == ["GET", "POST"]  # read, then every missing rule in one add
    assert w.gaps == {a.pk, b.pk}  # new on the stream: backfilled once connected

    again = w.sync()  # nothing changed: one read, no write
    assert again is not None and (again.added, again.deleted, again.kept) == (0, 0, 2)
    assert rule_calls(x) == ["GET", "POST", "GET"]

    with tenant_context(a):
        Forwarding.objects.update(is_active=False)
    follow(b, x, "partner", chat_id=-200)
    with tenant_context(b):
        MentionRule.objects.filter(pk=rule.pk).update(keywords=["bragabot", "braga"])
    w.gaps.clear()
    changed = w.sync()
    assert changed is not None and (changed.added, changed.deleted, changed.kept) == (2, 2, 0)
    assert rule_calls(x)[3:] == ["GET", "POST", "POST"]  # one delete, one add
    rules = x_rules(x)
    assert not [t for t in rules if t.startswith(f"t{a.pk}:")]  # stale: deleted
    assert sorted(t.split(":")[1] for t in rules) == ["forward", "mention"]
    assert all(t.startswith(f"t{b.pk}:") for t in rules)
    assert rules[next(t for t in rules if ":mention:" in t)] == "(bragabot OR braga) -is:retweet"
    assert w.gaps == {b.pk}  # its rules were replaced; a has none left on the stream


def test_the_same_query_of_two_communities_is_one_rule_serving_both(x, make_tenant):
    a, b = make_tenant(), make_tenant()
    follow(a, x, "project")
    follow(b, x, "project")
    plan = stream_plan()
    [only] = plan.rules
    assert only.tag.startswith(f"t{a.pk}:forward:")  # the first owner's tag
    assert [o.tenant_id for o in only.owners] == [a.pk, b.pk]
    assert only.owners[0].key == only.owners[1].key


def test_communities_off_the_stream(x, make_tenant, monkeypatch):
    own, capped, late, streamed = (make_tenant() for _ in range(4))
    for tenant, name in ((own, "one"), (capped, "two"), (late, "three"), (streamed, "four")):
        follow(tenant, x, name)
    credential_app_set(tenant=own, bearer_token="their-own-app", actor=Actor.system())
    budget_set(tenant=capped, monthly_cap_micros=5_000, actor=Actor.system())
    usage_charge(tenant=capped, app="platform", post_ids=[1])  # one post read: the cap
    monkeypatch.setattr(stream, "MAX_RULES", 1)
    plan = stream_plan()
    # Communities are taken in id order: the first that fits is on, the next is past the limit.
    assert set(plan.streamed) == {late.pk} and plan.over_limit == [streamed.slug]
    assert set(plan.polled) == {own.pk, streamed.pk}
    assert set(plan.capped) == {capped.pk}
    assert [r.owners[0].tenant_id for r in plan.rules] == [late.pk]


def test_a_query_x_refuses_as_a_rule_leaves_its_community_polled(x, make_tenant, worker, settings):
    # A platform configured for longer queries than X takes (the sandbox: 512).
    settings.X_QUERY_MAX_LENGTH = 1024
    long, short = make_tenant(), make_tenant()
    with tenant_context(long):
        MentionRule.objects.create(
            chat_id=-100, name="many", keywords=[f"keyword{n:02d}" for n in range(60)]
        )
    follow(short, x, "project")
    w = worker()
    first = w.sync()
    assert first is not None and first.added == 1 and len(first.refused) == 1
    assert rule_calls(x) == ["GET", "POST", "POST"]  # refused whole, then without it
    assert [t.split(":")[0] for t in x_rules(x)] == [f"t{short.pk}"]
    assert set(w.plan.streamed) == {short.pk} and set(w.plan.polled) == {long.pk}
    assert w.gaps == {short.pk}
    assert w.resync_wanted.is_set()
    again = w.sync()  # not offered again
    assert again is not None and (again.added, again.refused) == (0, frozenset())
    assert rule_calls(x)[3:] == ["GET"]
    assert set(w.plan.polled) == {long.pk} and w.plan.refused == [long.slug]


def test_a_rule_sync_the_budget_refuses_changes_nothing(x, make_tenant, worker):
    a = make_tenant()
    follow(a, x, "project")
    w = worker()
    w.sync()
    RateWindow.objects.filter(endpoint=stream.GET_RULES).update(used=10_000)
    follow(a, x, "partner")
    assert w.sync() is None  # refused before reaching X
    assert rule_calls(x) == ["GET", "POST"]
    assert len(x_rules(x)) == 1


def wait(w: StreamWorker, check: Callable[[], Any], timeout: float = 15) -> Any:
    """Step the worker (on this thread, in the test's transaction) until ``check()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w.step(timeout=0.05)
        found = check()
        if found:
            return found
    raise AssertionError("timed out")


def connected(w: StreamWorker) -> bool:
    return w.connected and not w.gaps


def cursor_ids(feed: Feed) -> list[int | None]:
    with tenant_context(feed.tenant):
        return list(Cursor.objects.order_by("key").values_list("since_id", flat=True))


def arrivals(feed: Feed) -> dict[int, str]:
    """post id -> the path that brought it first."""
    with tenant_context(feed.tenant):
        return dict(Post.objects.values_list("post_id", "via"))


def forwards(feed: Feed) -> list[int]:
    """The forwarded post ids, once per (post, group) row, and once per queued message."""
    with tenant_context(feed.tenant):
        rows = sorted(Forward.objects.values_list("post__post_id", flat=True))
    messages = feed.queued(EVENT_POST)
    assert len(messages) == len(rows)  # a message exactly when its row exists
    return rows


def test_a_post_two_communities_follow_reaches_both(x, make_tenant, tg, worker):
    a, b = make_feed(make_tenant(), tg, x), make_feed(make_tenant(), tg, x)
    project = x.add_account("project")
    a.follow(project)
    b.follow(project)
    w = worker()
    w.start()
    wait(w, lambda: connected(w))
    assert len(x_rules(x)) == 1  # the same query: one rule serving both

    post = int(x.post("project", "gm from the project")["id"])
    wait(w, lambda: forwards(a) and forwards(b))
    for feed in (a, b):
        assert forwards(feed) == [post]
        assert arrivals(feed) == {post: "stream"}
        assert cursor_ids(feed) == [post]  # no gap: the stream moved the cursor
    assert w.stats.routed == 2


def test_the_run_loop_says_how_many_posts_came_while_they_come(
    x, make_tenant, tg, worker, monkeypatch
):
    # The loop runs on this thread (the test's transaction holds the community, so the
    # loop keeps the test's connection open): what it says drives the test, posting once
    # connected and stopping once the post is routed.
    monkeypatch.setattr(stream, "close_old_connections", lambda: None)
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    lines: list[str] = []
    stop = threading.Event()
    deadline = threading.Timer(20, stop.set)

    def say(line: str) -> None:
        lines.append(line)
        if line.startswith("xfeed: connects 1,") and "posts 0" in line:
            x.post("project", "gm")
        if "posts 1, routed 1" in line:
            stop.set()

    deadline.start()
    try:
        worker().run(stop, say=say, progress_every=0)
    finally:
        deadline.cancel()
    assert lines[0].startswith("xfeed: streaming 1 rule(s) for 1 community(ies)")
    assert any("posts 1, routed 1" in line for line in lines), lines


def drop_and_post(x, text: str) -> int:
    """Drop the stream and post at once; only a post made while X had no connection of
    the app counts (tweepy reconnects within milliseconds: try again if it was faster)."""
    for _ in range(20):
        x.disconnect_streams()
        post = int(x.post("project", text)["id"])
        if x.stream_connections() == []:
            return post
    raise AssertionError("tweepy always reconnected before the post")


def queued_post(w: StreamWorker, post_id: int) -> None:
    """Wait (without stepping the worker) until tweepy queued the stream's ``post_id``."""
    deadline = time.monotonic() + 15
    while not any(
        kind == "post" and int(value.data.id) == post_id for kind, value in list(w.events.queue)
    ):
        assert time.monotonic() < deadline, f"the stream did not bring {post_id}"
        time.sleep(0.02)


def test_a_disconnect_is_backfilled_and_every_post_forwarded_once(x, make_tenant, tg, worker):
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    w = worker()
    w.start()
    wait(w, lambda: connected(w))
    first = int(x.post("project", "before the gap")["id"])
    wait(w, lambda: forwards(feed) == [first])

    gap = drop_and_post(x, "during the gap")
    until_reconnected(x)
    # Reconnected, but the worker has not handled it yet: this post reaches both the
    # stream (queued after "connected") and the backfill that handling runs.
    both = int(x.post("project", "right after the reconnect")["id"])
    queued_post(w, both)  # behind the gap and the new connection

    wait(w, lambda: w.events.empty() and connected(w))
    assert forwards(feed) == [first, gap, both]  # each once
    assert arrivals(feed) == {first: "stream", gap: "backfill", both: "backfill"}
    assert cursor_ids(feed) == [both]
    assert w.stats.backfills == w.stats.connects >= 2  # one after each connect

    after = int(x.post("project", "after the backfill")["id"])
    wait(w, lambda: len(forwards(feed)) == 4)
    assert arrivals(feed)[after] == "stream" and cursor_ids(feed) == [after]


def until_reconnected(x) -> None:
    deadline = time.monotonic() + 15
    while x.stream_connections() == []:
        assert time.monotonic() < deadline, "tweepy did not reconnect"
        time.sleep(0.01)


def test_during_a_gap_the_stream_moves_no_cursor(x, make_tenant, tg, worker):
    """The backfill is refused (X's window for search is blocked): the gap stays open,
    and a post the stream brings meanwhile must not move the cursor past the post
    missed in the gap, which the backfill finds once reads are allowed again."""
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    w = worker(tick_seconds=0.2)
    w.start()
    wait(w, lambda: connected(w))
    first = int(x.post("project", "before the gap")["id"])
    wait(w, lambda: forwards(feed) == [first])

    later = datetime.now(UTC) + timedelta(minutes=15)
    RateWindow.objects.filter(credential=f"app:{PLATFORM_APP}", endpoint=SEARCH).update(
        blocked_until=later
    )
    gap = drop_and_post(x, "during the gap")
    until_reconnected(x)
    wait(w, lambda: w.connected)
    streamed = int(x.post("project", "on the stream, gap still open")["id"])
    wait(w, lambda: streamed in arrivals(feed))
    assert w.gaps == {feed.tenant.pk}
    assert cursor_ids(feed) == [first]  # not moved to ``streamed``: ``gap`` is behind it
    assert forwards(feed) == [first, streamed]

    RateWindow.objects.filter(credential=f"app:{PLATFORM_APP}", endpoint=SEARCH).update(
        blocked_until=None
    )
    wait(w, lambda: not w.gaps)
    assert forwards(feed) == [first, gap, streamed]
    assert arrivals(feed)[gap] == "backfill"
    assert cursor_ids(feed) == [streamed]


def test_a_community_with_its_own_app_is_polled_by_the_worker(x, make_tenant, tg, worker):
    own = make_feed(make_tenant(), tg, x)
    x.add_app("their-own-app", app_id="theirs")
    credential_app_set(tenant=own.tenant, bearer_token="their-own-app", actor=Actor.system())
    own.follow(x.add_account("project"))
    post = int(x.post("project", "gm")["id"])
    w = worker()
    w.start()
    wait(w, lambda: forwards(own) == [post])
    assert arrivals(own) == {post: "poll"}
    assert x_rules(x) == {}  # nothing of theirs on the platform's stream
    assert x.calls(path="/2/tweets/search/recent", credential="app:theirs")
    assert not x.calls(path="/2/tweets/search/recent", credential="app:platform")


def test_a_rule_change_is_synced_when_asked_and_backfilled(x, make_tenant, tg, worker):
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    w = worker()
    w.start()
    wait(w, lambda: connected(w))
    partner = x.add_account("partner")
    feed.follow(partner)
    early = int(x.post("partner", "before the rule reached X")["id"])
    w.resync_wanted.set()  # as a signal would; the 30 s timer has not run out
    wait(
        w,
        lambda: len(x_rules(x)) == 1 and "from:" + partner["id"] in next(iter(x_rules(x).values())),
    )
    wait(w, lambda: forwards(feed) == [early])  # the new query's backfill found it
    late = int(x.post("partner", "on the stream")["id"])
    wait(w, lambda: forwards(feed) == [early, late])
    assert arrivals(feed) == {early: "backfill", late: "stream"}


def test_a_community_reaching_its_cap_pauses_and_catches_up_when_lifted(x, make_tenant, tg, worker):
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    w = worker(tick_seconds=0.2)
    w.start()
    wait(w, lambda: connected(w))
    # A post and its author: 15,000, the whole cap (set once the first backfill is done:
    # a search needs room for a page of 10 at its worst).
    budget_set(tenant=feed.tenant, monthly_cap_micros=15_000, actor=Actor.system())
    first = int(x.post("project", "the read that reaches the cap")["id"])
    wait(w, lambda: forwards(feed) == [first])
    assert usage_summary(tenant=feed.tenant).cost_micros == 15_000
    paused = int(x.post("project", "while paused")["id"])
    wait(w, lambda: w.gaps == {feed.tenant.pk})
    assert paused not in arrivals(feed)
    budget_set(tenant=feed.tenant, monthly_cap_micros=None, actor=Actor.system())
    wait(w, lambda: forwards(feed) == [first, paused])
    assert arrivals(feed)[paused] == "backfill" and not w.gaps


def test_a_worker_on_a_simulated_clock_records_and_bills_at_its_time(x, make_tenant, tg, worker):
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    simulated = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    w = worker(clock=lambda: simulated)
    w.start()
    wait(w, lambda: connected(w))
    post = int(x.post("project", "gm")["id"])
    wait(w, lambda: forwards(feed) == [post])
    with tenant_context(feed.tenant):
        assert Post.objects.get(post_id=post).received_at == simulated
    assert usage_summary(tenant=feed.tenant, now=simulated).post_reads == 1


def test_a_restart_backfills_from_where_the_stream_left_off(x, make_tenant, tg, worker):
    feed = make_feed(make_tenant(), tg, x)
    feed.follow(x.add_account("project"))
    first = worker()
    first.start()
    wait(first, lambda: connected(first))
    seen = int(x.post("project", "while running")["id"])
    wait(first, lambda: forwards(feed) == [seen])
    first.stop()
    missed = int(x.post("project", "while nothing ran")["id"])

    second = worker()
    second.start()
    wait(second, lambda: forwards(feed) == [seen, missed] and connected(second))
    assert arrivals(feed) == {seen: "stream", missed: "backfill"}
    # The cursor the stream moved: the restart's search asked only for what came after.
    [*_, search] = x.calls(path="/2/tweets/search/recent")
    assert search["query"]["since_id"] == str(seen)
