"""Posts from the sandbox X (tweepy over HTTP) ingested into a community with a bound group
on the sandbox Telegram: stored once, forwarded once per group whatever path brought them,
each group's choice of reposts, replies and quotes honoured, mentions relayed unless spam
(the reason stored), messages queued in the outbox."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from tests.xfeed.helpers import aged, fetch, sim_now
from xfeed.models import Forward, Mention, Post
from xfeed.services.ingest import Ingested, posts_ingest
from xfeed.signals import posts_received
from xfeed.spam import LINK_ONLY, NEW_ACCOUNT, REPEATED_TEXT

POST, MENTION = "tweet.forwarded", "mention.found"


def test_a_post_is_stored_and_forwarded_once_whichever_path_brings_it(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    made = xsim.post("project", "gm <frens> & builders")
    posts = fetch(xsim, "from:project")

    first = posts_ingest(tenant=group.tenant, posts=posts, via="stream", now=sim_now(xsim))
    again = posts_ingest(tenant=group.tenant, posts=posts * 2, via="poll", now=sim_now(xsim))

    assert first == Ingested(new=1, forwarded=1)
    assert again == Ingested(duplicates=1)
    [message] = group.queued(POST)
    assert message.idempotency_key == f"xfeed:fwd:{group.chat_id}:{made['id']}"
    assert message.options == {"parse_mode": "HTML"}
    assert "gm &lt;frens&gt; &amp; builders" in message.text
    assert f'href="https://x.com/project/status/{made["id"]}"' in message.text
    with tenant_context(group.tenant):
        stored = Post.objects.get()
        assert (stored.post_id, stored.via, stored.kind) == (int(made["id"]), "stream", "original")
        [forward] = Forward.objects.filter(post=stored, chat_id=group.chat_id)
        # The clock of the ingest (a benchmark's simulated one), not the database's.
        assert stored.received_at == forward.created_at == sim_now(xsim)


def test_each_group_gets_the_kinds_it_chose(feed, xsim):
    project, _ = aged(xsim, "project", "other")
    group = feed()
    everything = group.group("Everything", features=("tweet_forwarding",))
    group.follow(project)  # originals only
    group.follow(
        project, chat_id=everything, include_reposts=True, include_replies=True, include_quotes=True
    )
    theirs = xsim.post("other", "a post of someone else")
    made = {
        "original": xsim.post("project", "an original"),
        "reply": xsim.reply("project", theirs["id"], "a reply"),
        "quote": xsim.quote("project", theirs["id"], "a quote"),
        "repost": xsim.repost("project", theirs["id"]),
    }

    counts = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "from:project"), via="poll", now=sim_now(xsim)
    )

    assert (counts.new, counts.forwarded) == (4, 5)
    keys = {m.idempotency_key for m in group.queued(POST)}
    assert keys == {f"xfeed:fwd:{group.chat_id}:{made['original']['id']}"}
    keys = {m.idempotency_key for m in group.queued(POST, chat_id=everything)}
    assert keys == {f"xfeed:fwd:{everything}:{p['id']}" for p in made.values()}
    texts = " ".join(m.text for m in group.queued(POST, chat_id=everything))
    assert all(f"@project</b> {verb}" in texts for verb in ("posted", "replied", "reposted"))


def test_a_group_with_forwarding_switched_off_gets_nothing(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed(features=("mentions",))
    group.follow(project)
    xsim.post("project", "gm")

    counts = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "from:project"), via="poll", now=sim_now(xsim)
    )

    assert counts == Ingested(new=1)
    assert group.queued(POST) == []


def test_mentions_are_relayed_and_spam_is_kept_back_with_its_reason(feed, xsim):
    aged(xsim, "fan", "copycat", "linker")
    group = feed()
    rule = group.rule("brand", keywords=["bragabot"], hashtags=["bragabot"])
    good = xsim.post("fan", "bragabot made our group fun")
    xsim.advance(60)
    copied = xsim.post("copycat", "Bragabot made our group FUN! https://spam.example")
    linked = xsim.post("linker", "https://phish.example #bragabot @fan")
    xsim.add_account("newbie")  # made just now: a new account
    newbie = xsim.post("newbie", "bragabot is the best, trust me")

    counts = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "bragabot"), via="stream", now=sim_now(xsim)
    )

    assert (counts.new, counts.mentioned, counts.spam) == (4, 1, 3)
    [message] = group.queued(MENTION)
    assert message.idempotency_key == f"xfeed:men:{rule.pk}:{good['id']}"
    assert "bragabot made our group fun" in message.text and "Rule: brand" in message.text
    with tenant_context(group.tenant):
        stored = {m.post.post_id: (m.spam_reason, m.relayed) for m in Mention.objects.all()}
    assert stored == {
        int(good["id"]): ("", True),
        int(copied["id"]): (REPEATED_TEXT, False),
        int(linked["id"]): (LINK_ONLY, False),
        int(newbie["id"]): (NEW_ACCOUNT, False),
    }
    # The same posts again (a backfill): nothing is relayed twice.
    again = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "bragabot"), via="backfill", now=sim_now(xsim)
    )
    assert again == Ingested(duplicates=4)
    assert len(group.queued(MENTION)) == 1


def test_rules_of_groups_without_mentions_and_the_projects_own_posts(feed, xsim):
    project, *_ = aged(xsim, "project", "fan")
    group = feed()
    quiet = group.group("Quiet", features=("tweet_forwarding",))  # mentions off
    group.follow(project)
    group.rule("brand", keywords=["bragabot"])
    group.rule("brand", chat_id=quiet, keywords=["bragabot"])
    own = xsim.post("project", "bragabot v2 is live")
    theirs = xsim.post("fan", "bragabot v2 looks great")

    counts = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "bragabot"), via="poll", now=sim_now(xsim)
    )

    # The project's post is forwarded to its group, not relayed there as a mention too.
    assert (counts.forwarded, counts.mentioned) == (1, 1)
    assert [m.idempotency_key for m in group.queued(POST)] == [
        f"xfeed:fwd:{group.chat_id}:{own['id']}"
    ]
    [mention] = group.queued(MENTION)
    assert mention.idempotency_key.endswith(f":{theirs['id']}")
    assert group.queued(MENTION, chat_id=quiet) == []


def test_posts_before_forward_after_are_kept_but_not_sent(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    xsim.post("project", "history")
    xsim.advance(3600)
    fresh = xsim.post("project", "news")

    counts = posts_ingest(
        tenant=group.tenant,
        posts=fetch(xsim, "from:project"),
        via="poll",
        now=sim_now(xsim),
        forward_after=sim_now(xsim) - timedelta(minutes=5),
    )

    assert counts == Ingested(new=2, old=1, forwarded=1)
    assert [m.idempotency_key for m in group.queued(POST)] == [
        f"xfeed:fwd:{group.chat_id}:{fresh['id']}"
    ]
    # Kept: seen again later, the old one is a duplicate, never forwarded.
    later = posts_ingest(
        tenant=group.tenant, posts=fetch(xsim, "from:project"), via="poll", now=sim_now(xsim)
    )
    assert later == Ingested(duplicates=2)


@pytest.mark.django_db(transaction=True)
def test_the_stream_and_a_search_ingesting_at_once_forward_each_post_once(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    made = [xsim.post("project", f"post {n}") for n in range(20)]
    posts = fetch(xsim, "from:project")
    start, counts, errors = threading.Barrier(2), [], []

    def ingest(via: str, batch: list) -> None:
        try:
            start.wait()
            counts.append(
                posts_ingest(tenant=group.tenant, posts=batch, via=via, now=sim_now(xsim))
            )
        except BaseException as exc:  # reported below: neither path may fail
            errors.append(exc)
        finally:
            connection.close()

    try:
        # One path in order, the other newest first: the same keys, opposite orders.
        paths = [("stream", posts), ("poll", posts[::-1])]
        threads = [threading.Thread(target=ingest, args=path) for path in paths]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert errors == []
        assert sum(c.forwarded for c in counts) == 20
        assert sum(c.new for c in counts) == 20 and sum(c.duplicates for c in counts) == 20
        keys = [m.idempotency_key for m in group.queued(POST)]
        assert sorted(keys) == sorted(f"xfeed:fwd:{group.chat_id}:{p['id']}" for p in made)
        with tenant_context(group.tenant):
            assert Forward.objects.count() == 20
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{group.tenant.schema_name}" CASCADE')


def test_posts_new_to_the_community_are_announced_once_in_its_schema(feed, xsim):
    project, *_ = aged(xsim, "project")
    group = feed()
    group.follow(project)
    made = xsim.post("project", "v2 is live")
    posts = fetch(xsim, "from:project")
    received: list[tuple[str, list[int], str]] = []

    def receiver(sender, *, tenant, posts, **kwargs):
        received.append((tenant.slug, [p.post_id for p in posts], connection.schema_name))

    posts_received.connect(receiver)
    try:
        posts_ingest(tenant=group.tenant, posts=posts, via="stream", now=sim_now(xsim))
        posts_ingest(tenant=group.tenant, posts=posts, via="poll", now=sim_now(xsim))
    finally:
        posts_received.disconnect(receiver)

    assert received == [(group.tenant.slug, [int(made["id"])], group.tenant.schema_name)]
