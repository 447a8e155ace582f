"""The shared poller against the sandbox X on a clock the test moves: one set of queries
for every community on the platform's app (accounts deduplicated, clauses shared, within
X's query length, packing stable), each post routed to the communities it is for and
billed to them only (a post a clause caused but no rule took billed too, and never twice
when another community's catch-up brings it back), a capped community left out and never
billed past its cap, nothing forwarded twice when the packing changes or the deployment
switches between shared and per-community polling, the interval following the traffic,
a community with its own X app polled apart with it."""

from __future__ import annotations

from django_tenants.utils import tenant_context

from history.services import Actor
from tests.xfeed.helpers import aged, sim_now
from xclient.credentials import credential_app_set
from xclient.metering import budget_set
from xclient.models import PostRead, Usage
from xfeed.conf import poll_max_seconds
from xfeed.models import Cursor, Post
from xfeed.polling import tenant_poll
from xfeed.queries import FORWARD, MENTION, max_length
from xfeed.shared_poll import first_interval, platform_poll, shared_plan, shared_poll

POST, MENTIONED = "tweet.forwarded", "mention.found"
SEARCH = "/2/tweets/search/recent"


def searches(x) -> list[dict]:
    return [c for c in x.calls() if c["path"] == SEARCH]


def poll_round(x, *groups):
    """The shared round for ``groups``' communities, once every query is due."""
    x.advance(poll_max_seconds())
    return shared_poll(now=sim_now(x), tenants=[g.tenant for g in groups])


def forwarded(group) -> list[str]:
    return [m.idempotency_key for m in group.queued(POST)]


def fwd(group, *posts: dict) -> list[str]:
    return [f"xfeed:fwd:{group.chat_id}:{p['id']}" for p in posts]


def billed(group) -> set[int]:
    return set(PostRead.objects.filter(tenant=group.tenant).values_list("post_id", flat=True))


def test_accounts_are_packed_once_for_all_communities_within_the_length(feed, xsim, settings):
    settings.X_QUERY_MAX_LENGTH = 80  # three from:<19-digit id> a query
    accounts = aged(xsim, *(f"acct{n}" for n in range(6)))
    a, b = feed(), feed()
    for account in accounts[:4]:
        a.follow(account)
    for account in accounts[2:]:
        b.follow(account)  # two of them followed by both
    a_token = a.rule("token", cashtags=["BRGA"])
    b_token = b.rule("token", cashtags=["BRGA"])  # the same clause
    b_brand = b.rule("brand", keywords=["bragabot"])

    plan = shared_plan([a.tenant, b.tenant])

    forward = [q for q in plan.queries if q.purpose == FORWARD]
    packed = [i for q in forward for s in q.shares for i in s.compiled.account_ids]
    assert sorted(set(packed)) == sorted(int(acc["id"]) for acc in accounts)
    assert sum(q.query.count("from:") for q in forward) == 6  # each account once
    assert len(forward) == 2
    assert all(len(q.query) <= max_length() for q in plan.queries)
    [mention] = [q for q in plan.queries if q.purpose == MENTION]
    assert mention.query.count("$BRGA") == 1
    assert {s.tenant.pk: s.compiled.rule_ids for s in mention.shares} == {
        a.tenant.pk: (a_token.pk,),
        b.tenant.pk: (b_token.pk, b_brand.pk),
    }

    # Stable: a new account joins the last query; the others keep their keys.
    before = [q.key for q in forward]
    b.follow(aged(xsim, "newcomer")[0])
    after = [q.key for q in shared_plan([a.tenant, b.tenant]).queries if q.purpose == FORWARD]
    assert after[: len(before) - 1] == before[:-1]
    assert len(after) - len(before) in (0, 1)


def test_a_post_goes_to_every_community_following_its_author_and_only_those(feed, xsim):
    alice, bob, carol = aged(xsim, "alice", "bob", "carol")
    a, b = feed(), feed()
    a.follow(alice)
    a.follow(carol)
    b.follow(bob)
    b.follow(carol)
    poll_round(xsim, a, b)  # the cursors
    by_alice = xsim.post("alice", "only for a")
    by_bob = xsim.post("bob", "only for b")
    by_carol = xsim.post("carol", "for both")

    result = poll_round(xsim, a, b)

    assert (result.searched, result.calls) == (1, 1)  # one query for both communities
    assert sorted(forwarded(a)) == sorted(fwd(a, by_alice, by_carol))
    assert sorted(forwarded(b)) == sorted(fwd(b, by_bob, by_carol))
    with tenant_context(b.tenant):  # b never stores a's accounts' posts
        assert int(by_alice["id"]) not in set(Post.objects.values_list("post_id", flat=True))
    # Each billed for its own; the post both follow billed once (X bills it once a day).
    assert int(by_alice["id"]) in billed(a) and int(by_bob["id"]) in billed(b)
    assert int(by_alice["id"]) not in billed(b) and int(by_bob["id"]) not in billed(a)
    assert len(billed(a) | billed(b)) == 3


def test_a_post_a_clause_caused_but_no_rule_took_is_billed_to_that_community(feed, xsim):
    aged(xsim, "fan")
    a, b = feed(), feed()
    a.rule("brand", keywords=["bragabot"], languages=["en"])
    b.rule("other", keywords=["elsewhere"])
    poll_round(xsim, a, b)
    spanish = xsim.post("fan", "bragabot es genial", lang="es")
    english = xsim.post("fan", "bragabot is great")

    result = poll_round(xsim, a, b)

    assert result.ingested.mentioned == 1 and result.billed_only == 1
    assert len(a.queued(MENTIONED)) == 1 and b.queued(MENTIONED) == []
    assert billed(a) == {int(spanish["id"]), int(english["id"])}
    assert billed(b) == set()
    assert not Usage.objects.filter(tenant=b.tenant).exists()
    with tenant_context(a.tenant):  # billed, not stored: no rule of a's takes it
        assert not Post.objects.filter(post_id=int(spanish["id"])).exists()


def test_a_capped_community_is_left_out_and_never_billed_past_its_cap(feed, xsim):
    alice, bob = aged(xsim, "alice", "bob")
    a, b = feed(), feed()
    a.follow(alice)
    b.follow(bob)
    poll_round(xsim, a, b)
    # Room for one post and its author (5,000 + 10,000 µUSD): b takes one, then stops.
    budget_set(tenant=b.tenant, monthly_cap_micros=15_000, actor=Actor.system())
    made = [xsim.post("bob", f"post {n}") for n in range(3)]
    mine = xsim.post("alice", "a's post")

    result = poll_round(xsim, a, b)

    assert result.capped == [b.tenant.slug]
    assert forwarded(a) == fwd(a, mine)
    assert forwarded(b) == fwd(b, made[0])  # the oldest, as far as the cap went
    assert Usage.objects.get(tenant=b.tenant).cost_micros == 15_000
    with tenant_context(b.tenant):
        since = Cursor.objects.get().since_id  # stays: once the cap allows, it resumes
    assert since is None or since < int(made[0]["id"])

    later = poll_round(xsim, a, b)

    assert b.tenant.pk in later.plan.capped and b.tenant.pk not in later.plan.shared
    assert all(b.tenant.pk not in {s.tenant.pk for s in q.shares} for q in later.plan.queries)
    assert Usage.objects.get(tenant=b.tenant).cost_micros == 15_000

    budget_set(tenant=b.tenant, monthly_cap_micros=None, actor=Actor.system())
    poll_round(xsim, a, b)
    assert sorted(forwarded(b)) == sorted(fwd(b, *made))  # the rest, once each


def test_nothing_is_forwarded_twice_across_a_packing_change_and_a_mode_switch(feed, xsim, settings):
    alice, bob = aged(xsim, "alice", "bob")
    a, b = feed(), feed()
    a.follow(alice)
    b.follow(alice)
    poll_round(xsim, a, b)
    first = xsim.post("alice", "one")
    poll_round(xsim, a, b)
    missed = xsim.post("alice", "posted while the packing changes")
    b.follow(bob)  # the shared query now holds both: a new key, resumed from the old
    second = xsim.post("bob", "two")
    poll_round(xsim, a, b)
    # The deployment switches to per-community polling (and back): cursors carry over.
    third = xsim.post("alice", "three")
    xsim.advance(poll_max_seconds())
    tenant_poll(tenant=a.tenant, now=sim_now(xsim))
    tenant_poll(tenant=b.tenant, now=sim_now(xsim))
    fourth = xsim.post("alice", "four")
    poll_round(xsim, a, b)

    assert forwarded(a) == fwd(a, first, missed, third, fourth)
    assert forwarded(b) == fwd(b, first, missed, second, third, fourth)


def test_the_interval_follows_the_traffic(feed, xsim, settings, monkeypatch):
    settings.XFEED_POLL_SECONDS, settings.XFEED_POLL_MAX_SECONDS = 60, 3600
    alice, *_ = aged(xsim, "alice")
    a = feed()
    a.follow(alice)
    shared_poll(now=sim_now(xsim), tenants=[a.tenant])
    with tenant_context(a.tenant):
        assert Cursor.objects.get().interval_s == 3600  # nothing in its newest page: quiet
    xsim.advance(30)
    assert shared_poll(now=sim_now(xsim), tenants=[a.tenant]).calls == 0  # not due
    for n in range(100):
        xsim.post("alice", f"burst {n}")
    xsim.advance(3600)
    shared_poll(now=sim_now(xsim), tenants=[a.tenant])
    with tenant_context(a.tenant):
        assert Cursor.objects.get().interval_s == 1815  # 50 posts' worth: 100 in 3,630 s


def test_first_interval_reads_the_rate_of_the_newest_page(settings, xsim):
    settings.XFEED_POLL_SECONDS, settings.XFEED_POLL_MAX_SECONDS = 60, 3600
    assert first_interval(posts=[], now=sim_now(xsim)) == 3600


def test_a_community_with_its_own_app_is_polled_apart_with_it(feed, xsim):
    alice, bob = aged(xsim, "alice", "bob")
    a, b = feed(), feed()
    a.follow(alice)
    b.follow(bob)
    own_app = xsim.add_app("community-own-token")
    credential_app_set(tenant=b.tenant, bearer_token="community-own-token", actor=Actor.system())

    result = platform_poll(now=sim_now(xsim))

    assert set(result.shared.plan.shared) == {a.tenant.pk}
    assert set(result.shared.plan.own_app) == {b.tenant.pk}
    by_credential = {c["credential"]: c["query"]["query"] for c in searches(xsim)}
    assert by_credential == {
        "app:app1": f"from:{alice['id']}",
        f"app:{own_app}": f"from:{bob['id']}",
    }


def test_a_community_is_not_billed_again_when_another_catches_up(feed, xsim):
    aged(xsim, "fan")
    a, b = feed(), feed()
    a.rule("brand", keywords=["bragabot"], languages=["en"])
    b.rule("brand", keywords=["bragabot"])  # the same clause, any language
    poll_round(xsim, a, b)
    xsim.post("fan", "bragabot one")
    poll_round(xsim, a, b)
    budget_set(tenant=b.tenant, monthly_cap_micros=0, actor=Actor.system())  # b pauses
    spanish = xsim.post("fan", "bragabot dos", lang="es")
    assert poll_round(xsim, a, b).billed_only == 1  # a caused it alone
    spent = Usage.objects.get(tenant=a.tenant).cost_micros

    budget_set(tenant=b.tenant, monthly_cap_micros=None, actor=Actor.system())
    caught_up = poll_round(xsim, a, b)  # from b's older cursor: the post comes back

    assert searches(xsim)[-1]["query"]["since_id"] != str(spanish["id"])
    assert caught_up.billed_only == 0 and len(b.queued(MENTIONED)) == 2
    assert Usage.objects.get(tenant=a.tenant).cost_micros == spent
