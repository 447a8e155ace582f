"""Polling rounds against the sandbox X on a clock the test moves: cursors per compiled
query (since_id, paging, nothing missed or sent twice), the first search of a new query
does not flood the group, queries are asked only when due (an interval that adapts to
their traffic), a refused read ends the round without losing the cursor, the community's
own credential is used when it has one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context

from history.services import Actor
from tests.xfeed.helpers import aged, sim_now
from xclient.credentials import credential_app_set
from xclient.metering import budget_set
from xclient.models import RateWindow
from xfeed import polling
from xfeed.models import Cursor, Post
from xfeed.polling import cursor_seen, next_interval, tenant_poll

POST, MENTION = "tweet.forwarded", "mention.found"
SEARCH = "/2/tweets/search/recent"


def searches(x) -> list[dict]:
    return [c for c in x.calls() if c["path"] == SEARCH]


def cursor_of(group) -> Cursor:
    with tenant_context(group.tenant):
        return Cursor.objects.get()


def later(x, seconds: float = 3600) -> None:
    x.advance(seconds)


def test_the_first_search_forwards_nothing_old_then_since_id_takes_only_the_new(feed, xsim):
    project, *_ = aged(xsim, "project")
    for n in range(3):
        xsim.post("project", f"old news {n}")
    later(xsim)
    group = feed()
    group.follow(project)

    first = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert (first.searched, first.calls) == (1, 1)
    assert (first.ingested.new, first.ingested.old, first.ingested.forwarded) == (3, 3, 0)
    assert group.queued(POST) == []
    cursor = cursor_of(group)
    with tenant_context(group.tenant):
        assert cursor.since_id == max(Post.objects.values_list("post_id", flat=True))
    assert "since_id" not in searches(xsim)[-1]["query"]

    news = xsim.post("project", "fresh news")
    later(xsim, 60)
    second = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert searches(xsim)[-1]["query"]["since_id"] == str(cursor.since_id)
    assert (second.ingested.new, second.ingested.forwarded) == (1, 1)
    assert [m.idempotency_key for m in group.queued(POST)] == [
        f"xfeed:fwd:{group.chat_id}:{news['id']}"
    ]
    assert cursor_of(group).since_id == int(news["id"])


def test_every_page_is_read_and_each_post_forwarded_once(feed, xsim, monkeypatch):
    monkeypatch.setattr(polling, "PAGE_SIZE", 10)  # X's smallest page: 25 posts, 3 pages
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    made = [xsim.post("project", f"post {n}") for n in range(25)]
    later(xsim, 60)

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert result.calls == 3 and result.ingested.forwarded == 25
    keys = [m.idempotency_key for m in group.queued(POST)]
    assert sorted(keys) == sorted(f"xfeed:fwd:{group.chat_id}:{p['id']}" for p in made)
    assert cursor_of(group).since_id == int(made[-1]["id"])


def test_a_query_is_asked_when_due_and_a_quiet_one_less_often(feed, xsim, settings):
    settings.XFEED_POLL_SECONDS, settings.XFEED_POLL_MAX_SECONDS = 60, 900
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    assert cursor_of(group).interval_s == 60

    later(xsim, 30)
    assert tenant_poll(tenant=group.tenant, now=sim_now(xsim)).calls == 0  # not due yet
    intervals = []
    for _ in range(5):  # nothing new: 120, 240, 480, 900, 900
        later(xsim, cursor_of(group).interval_s)
        assert tenant_poll(tenant=group.tenant, now=sim_now(xsim)).calls == 1
        intervals.append(cursor_of(group).interval_s)
    assert intervals == [120, 240, 480, 900, 900]

    # A burst: back to the shortest interval at once.
    for n in range(60):
        xsim.post("project", f"burst {n}")
    later(xsim, 900)
    assert tenant_poll(tenant=group.tenant, now=sim_now(xsim)).ingested.forwarded == 60
    assert cursor_of(group).interval_s == 300  # 20 posts' worth of 900 s at 60 per 900 s
    # A backfill asks every query, due or not.
    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim), backfill=True)
    assert (result.searched, result.calls) == (1, 1)


def test_next_interval_aims_at_twenty_posts_a_call(settings):
    settings.XFEED_POLL_SECONDS, settings.XFEED_POLL_MAX_SECONDS = 60, 900
    assert next_interval(current=0, elapsed=0, returned=0, first=True) == 60
    assert next_interval(current=60, elapsed=60, returned=0) == 120
    assert next_interval(current=600, elapsed=600, returned=0) == 900
    assert next_interval(current=300, elapsed=300, returned=10) == 600  # 20 in 600 s
    assert next_interval(current=300, elapsed=300, returned=5) == 600  # twofold at most
    assert next_interval(current=900, elapsed=900, returned=100) == 180
    assert next_interval(current=900, elapsed=900, returned=10_000) == 60


def test_a_refused_read_ends_the_round_and_the_cursor_keeps_its_place(feed, xsim, monkeypatch):
    monkeypatch.setattr(polling, "PAGE_SIZE", 10)
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    since = cursor_of(group).since_id
    made = [xsim.post("project", f"post {n}") for n in range(15)]
    later(xsim, 60)
    # Room for one page at its worst (10 posts, each with its author: 15,000 µUSD); it
    # costs 60,000 (one author), and what is left does not pay for the second.
    budget_set(tenant=group.tenant, monthly_cap_micros=150_000, actor=Actor.system())

    cut = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert (cut.refused, cut.calls, cut.searched) == ("x_cap_reached", 1, 0)
    assert cut.ingested.forwarded == 10  # the newest page, kept
    assert cursor_of(group).since_id == since  # the older page is still to be read
    assert len(searches(xsim)) == 2  # the refused read never reached X

    budget_set(tenant=group.tenant, monthly_cap_micros=None, actor=Actor.system())
    resumed = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert resumed.refused == "" and resumed.ingested.forwarded == 5
    assert resumed.ingested.duplicates == 10
    keys = sorted(m.idempotency_key for m in group.queued(POST))
    assert keys == sorted(f"xfeed:fwd:{group.chat_id}:{p['id']}" for p in made)
    assert cursor_of(group).since_id == int(made[-1]["id"])


def test_a_full_rate_window_ends_the_round_quietly(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    group.rule("brand", keywords=["bragabot"])
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    later(xsim, 60)
    window = RateWindow.objects.get(credential="app:platform", endpoint=f"GET {SEARCH}")
    # The window's clock is the sandbox's: it resets 15 minutes after the first search.
    assert window.resets_at == sim_now(xsim) - timedelta(seconds=60) + timedelta(minutes=15)
    RateWindow.objects.filter(pk=window.pk).update(used=window.limit)

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert result.refused == "x_window_full" and result.retry_at == window.resets_at
    assert result.calls == 0


def test_a_changed_query_resumes_where_its_members_were(feed, xsim):
    project, partner = aged(xsim, "project", "partner")
    xsim.post("project", "history")
    later(xsim)
    group = feed()
    group.follow(project)
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    old = cursor_of(group)
    assert old.since_id is not None
    missed = xsim.post("project", "posted while the query changes")
    group.follow(partner)  # a new compiled query serves both accounts
    later(xsim, 3600)  # beyond the first search's grace

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    new = cursor_of(group)  # the only cursor: the old one was deleted
    assert new.key != old.key and new.since_id == int(missed["id"])
    assert result.ingested.forwarded == 1
    assert [m.idempotency_key for m in group.queued(POST)] == [
        f"xfeed:fwd:{group.chat_id}:{missed['id']}"
    ]
    assert searches(xsim)[-1]["query"]["since_id"] == str(old.since_id)


def test_mention_queries_are_polled_and_relayed(feed, xsim):
    aged(xsim, "fan")
    group = feed()
    rule = group.rule("brand", cashtags=["BRGA"])
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    made = xsim.post("fan", "loading up on $BRGA today")
    later(xsim, 60)

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert result.ingested.mentioned == 1
    [message] = group.queued(MENTION)
    assert message.idempotency_key == f"xfeed:men:{rule.pk}:{made['id']}"


def test_a_community_reads_with_its_own_app_token_when_it_has_one(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    own_app = xsim.add_app("community-own-token")
    credential_app_set(
        tenant=group.tenant, bearer_token="community-own-token", actor=Actor.system()
    )

    tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert searches(xsim)[-1]["credential"] == f"app:{own_app}"
    assert RateWindow.objects.filter(credential=f"app:t{group.tenant.pk}").exists()
    assert not RateWindow.objects.filter(credential="app:platform").exists()


def test_without_any_token_nothing_is_read(feed, xsim, settings):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    settings.X_BEARER_TOKEN = ""

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim))

    assert (result.refused, result.calls) == ("x_not_configured", 0)
    assert searches(xsim) == []


@pytest.mark.parametrize("purpose", ["forward", "mention"])
def test_cursors_of_queries_no_longer_compiled_are_deleted(feed, xsim, purpose):
    project, *_ = aged(xsim, "project")
    group = feed()
    row = group.follow(project) if purpose == "forward" else group.rule("r", keywords=["x"])
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    with tenant_context(group.tenant):
        assert Cursor.objects.get().key.startswith(purpose)
        row.is_active = False
        row.save()
    tenant_poll(tenant=group.tenant, now=sim_now(xsim))
    with tenant_context(group.tenant):
        assert not Cursor.objects.exists()


def test_posts_the_stream_delivered_move_the_backfill_start(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    tenant_poll(tenant=group.tenant, now=sim_now(xsim), backfill=True)
    key = cursor_of(group).key
    streamed = xsim.post("project", "came by the stream")
    assert cursor_seen(tenant=group.tenant, key=key, post_id=int(streamed["id"]))
    assert cursor_seen(tenant=group.tenant, key=key, post_id=int(streamed["id"]) - 1)
    assert cursor_of(group).since_id == int(streamed["id"])  # never back
    assert not cursor_seen(tenant=group.tenant, key="forward:unknown", post_id=1)
    missed = xsim.post("project", "sent while the stream was down")

    result = tenant_poll(tenant=group.tenant, now=sim_now(xsim), backfill=True)

    assert searches(xsim)[-1]["query"]["since_id"] == streamed["id"]
    assert (result.ingested.new, result.ingested.forwarded) == (1, 1)
    with tenant_context(group.tenant):
        assert Post.objects.get(post_id=int(missed["id"])).via == "backfill"
