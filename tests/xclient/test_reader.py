"""Reads through the budget and the meter, against the sandbox X over HTTP: a read is
counted and billed; a read the budget or the cap refuses never reaches X; X's 429 blocks
the window until X's reset; the same post read twice in a day is billed once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import requests
import tweepy

from accounts.services import user_touch
from config.errors import ServiceError
from history.services import Actor
from sandbox.x import Limits
from tests.xclient.helpers import LINK_CALLBACK
from xclient.credentials import (
    credential_app_set,
    credential_connect_finish,
    credential_connect_start,
)
from xclient.links import link_oauth_callback, link_oauth_start
from xclient.metering import budget_set, prices
from xclient.models import Priority, RateWindow, Usage
from xclient.reader import LinkReader, ReadRefused, XReader

APP_TOKEN = "platform-app-token"
SEARCH = "GET /2/tweets/search/recent"
# X's limit for recent search, cut to 3 per window so that a 429 is near.
X_LIMITS = Limits(overrides={("GET", "/2/tweets/search/recent"): (3, 3)})


@pytest.fixture
def x(x_server, settings):
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    x_server.add_account("project")
    x_server.post("project", "gm #launch")
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    return x_server


def searches(x) -> int:
    return len([c for c in x.calls() if c["path"] == "/2/tweets/search/recent"])


def test_a_read_is_counted_and_billed_once_a_day(tenant, x):
    reader = XReader(tenant=tenant, priority=Priority.FORWARDING)
    found = reader.search_recent("#launch")
    assert [t.text for t in found.data] == ["gm #launch"]
    window = RateWindow.objects.get(credential="app:platform", endpoint=SEARCH)
    assert (window.used, window.limit) == (1, 3)  # X's headers set the limit
    reader.search_recent("#launch")  # the same post again today: not billed again
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.post_reads, usage.cost_micros) == (1, 5_000)


def test_a_read_the_budget_refuses_never_reaches_x(tenant, x):
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    for _ in range(3):  # X's window for this credential: 3
        reader.search_recent("#launch")
    with pytest.raises(ReadRefused) as full:
        reader.search_recent("#launch")
    assert (full.value.code, full.value.status) == ("x_window_full", 429)
    assert full.value.retry_at is not None
    assert searches(x) == 3  # the refused read never left


def test_a_429_from_x_blocks_until_its_reset(tenant, x):
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    reader.search_recent("#launch")
    # The budget is told X's window has room, while X's own count says otherwise (it
    # was spent by something the budget does not see).
    RateWindow.objects.filter(credential="app:platform", endpoint=SEARCH).update(used=0)
    for _ in range(2):
        reader.search_recent("#launch")
    RateWindow.objects.filter(credential="app:platform", endpoint=SEARCH).update(used=0)
    with pytest.raises(tweepy.TooManyRequests):
        reader.search_recent("#launch")
    window = RateWindow.objects.get(credential="app:platform", endpoint=SEARCH)
    assert window.blocked_until is not None and window.used == window.limit
    before = searches(x)
    with pytest.raises(ReadRefused) as blocked:
        reader.search_recent("#launch")
    assert blocked.value.code == "x_blocked"
    assert searches(x) == before


def test_a_tenant_past_its_cap_reads_nothing(tenant, x):
    # A search returns 10 posts at most unless told: room for exactly that.
    budget_set(tenant=tenant, monthly_cap_micros=50_000, actor=Actor.system())
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS)
    reader.search_recent("#launch")  # 1 post came: 45,000 left, not 10 posts' worth
    with pytest.raises(ReadRefused) as paused:
        reader.search_recent("#launch")
    assert (paused.value.code, paused.value.status) == ("x_cap_reached", 429)
    assert searches(x) == 1


def test_a_capped_read_asks_for_no_more_than_the_cap_pays_for(tenant, x):
    """The worst a read can cost (every item it may return, each with its author) is
    checked before the read: max_results is cut to what fits, and a tenant's month never
    passes its cap, whatever came back."""
    for n in range(30):
        x.post("project", f"gm {n} #launch")
    # Each post with its author may cost 5,000 + 10,000: room for 7 of them.
    budget_set(tenant=tenant, monthly_cap_micros=7 * 15_000, actor=Actor.system())
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS)
    page = reader.user_posts(int(x.snapshot()["accounts"][0]["id"]), expansions=["author_id"])
    asked = [c for c in x.calls() if c["path"].endswith("/tweets")][-1]
    assert asked["query"]["max_results"] == "7" and len(page.data) == 7
    usage = Usage.objects.get(tenant=tenant)
    assert usage.cost_micros == 7 * 5_000 + 10_000 <= 7 * 15_000
    # 60,000 left: four posts with authors, but a timeline asks for 5 at least.
    with pytest.raises(ReadRefused):
        reader.user_posts(int(x.snapshot()["accounts"][0]["id"]), expansions=["author_id"])
    # Posts alone (no author asked for) cost 5,000 each: 12 of the 100 asked for.
    found = reader.search_recent("#launch", max_results=100)
    assert len(found.data) == 12
    assert x.calls("/2/tweets/search/recent")[-1]["query"]["max_results"] == "12"
    # Seven of them were billed today already (X bills a post once a day): five new.
    assert Usage.objects.get(tenant=tenant).cost_micros == 45_000 + 5 * 5_000
    # 35,000 left: seven posts alone, fewer than the ten a search asks for at least.
    with pytest.raises(ReadRefused):
        reader.search_recent("#launch")


def test_a_tenant_reads_with_its_own_credentials_only_and_its_app_is_billed(make_tenant, x):
    a, b = make_tenant(), make_tenant()
    b_token = credential_app_set(tenant=b, bearer_token=APP_TOKEN, actor=Actor.system())
    with pytest.raises(ValueError, match="its own credentials"):
        XReader(tenant=a, priority=Priority.FORWARDING, credential=b_token)
    XReader(tenant=b, priority=Priority.FORWARDING, credential=b_token).search_recent("#launch")
    window = RateWindow.objects.get(credential=f"app:t{b.pk}", endpoint=SEARCH)
    assert window.used == 1
    # b's own app is billed for the post, not the platform's: a read through the
    # platform's token the same day pays for it again.
    XReader(tenant=a, priority=Priority.FORWARDING).search_recent("#launch")
    assert Usage.objects.get(tenant=a).post_reads == 1
    assert Usage.objects.get(tenant=b).post_reads == 1


def test_a_read_at_a_given_now_is_counted_and_billed_then(tenant, x):
    # A benchmark's simulated clock: the budget and the billing month follow it (the
    # window's reset then comes from X's headers, on X's clock).
    then = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    reader = XReader(tenant=tenant, priority=Priority.FORWARDING)
    reader.search_recent("#launch", now=then)
    assert Usage.objects.get(tenant=tenant).month == date(2031, 3, 1)
    budget_set(tenant=tenant, monthly_cap_micros=50_000, actor=Actor.system())
    with pytest.raises(ReadRefused):  # March has no room left for 10 posts
        reader.search_recent("#launch", now=then)
    reader.search_recent("#launch", now=then + timedelta(days=31))  # April is not
    assert searches(x) == 2


def test_an_account_reading_its_own_data_pays_the_owned_price(tenant, x, settings):
    """X's owned reads: a connected account's own timeline, read with its own token, at
    $0.001 a resource; another account's timeline with the same token at the post price."""
    redirect = "https://bragabot.example/x/callback"
    x.add_oauth_client("platform-client", [redirect])
    settings.X_OAUTH_CLIENT_ID, settings.X_OAUTH_CLIENT_SECRET = "platform-client", ""
    x.auto_approve("project")
    consent = requests.get(
        credential_connect_start(tenant=tenant, redirect_uri=redirect),
        allow_redirects=False,
        timeout=10,
    )
    own = credential_connect_finish(
        tenant=tenant, callback_url=consent.headers["Location"], actor=Actor.system()
    )
    other = x.add_account("other")
    x.post("other", "not mine")
    reader = XReader(tenant=tenant, priority=Priority.KOL_METRICS, credential=own)

    mine = reader.user_posts(own.x_user_id)
    assert [t.text for t in mine.data] == ["gm #launch"]
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.owned_reads, usage.post_reads, usage.cost_micros) == (1, 0, 1_000)

    reader.user_posts(int(other["id"]))
    usage.refresh_from_db()
    assert (usage.owned_reads, usage.post_reads, usage.cost_micros) == (1, 1, 6_000)
    # The app token is never an owner: its read of the project's timeline is a post read.
    assert not XReader(tenant=tenant, priority=Priority.KOL_METRICS)._owned(
        "GET /2/users/:id/tweets", {"id": own.x_user_id}
    )


def test_engagement_lists_are_counted_billed_and_paged(tenant, x):
    """retweeted_by, quote_tweets, liking_users, followers and following: each call
    takes a slot of its own endpoint's window and bills what came back."""
    post = x.post("project", "raid me")
    for name in ("ann", "ben", "cat"):
        x.add_account(name)
        x.repost(name, post["id"])
        x.like(name, post["id"])
        x.follow(name, "project")
    x.quote("ann", post["id"], "so good")
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    first = reader.retweeted_by(int(post["id"]), max_results=2)
    assert [u.username for u in first.data] == ["cat", "ben"]
    rest = reader.retweeted_by(
        int(post["id"]), max_results=2, pagination_token=first.meta["next_token"]
    )
    assert [u.username for u in rest.data] == ["ann"]
    quotes = reader.quote_tweets(int(post["id"]), tweet_fields=["author_id"])
    assert [q.text for q in quotes.data] == ["so good"]
    assert len(reader.liking_users(int(post["id"])).data) == 3
    project = int(post["author_id"])
    assert [u.username for u in reader.followers(project, max_results=1000).data] == [
        "cat", "ben", "ann",
    ]  # fmt: skip
    ann = int(x.snapshot()["accounts"][1]["id"])
    assert [u.username for u in reader.following(ann).data] == ["project"]
    used = dict(
        RateWindow.objects.filter(credential="app:platform").values_list("endpoint", "used")
    )
    assert used == {
        "GET /2/tweets/:id/retweeted_by": 2,
        "GET /2/tweets/:id/quote_tweets": 1,
        "GET /2/tweets/:id/liking_users": 1,
        "GET /2/users/:id/followers": 1,
        "GET /2/users/:id/following": 1,
    }
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.post_reads, usage.user_reads) == (1, 3 + 3 + 3 + 1)


def test_a_capped_followers_read_asks_for_what_the_cap_pays_for(tenant, x):
    for n in range(5):
        x.add_account(f"f{n}")
        x.follow(f"f{n}", "project")
    each = prices()["user_read"]
    budget_set(tenant=tenant, monthly_cap_micros=3 * each, actor=Actor.system())
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    project = int(x.snapshot()["accounts"][0]["id"])
    page = reader.followers(project, max_results=1000)
    assert len(page.data) == 3
    assert x.calls(f"/2/users/{project}/followers")[-1]["query"]["max_results"] == "3"


def test_a_post_is_read_by_id_with_its_author_and_billed_for_both(tenant, x):
    posted = x.post("project", "v2 is live")
    reader = XReader(tenant=tenant, priority=Priority.VALIDATION)
    found = reader.post(int(posted["id"]), expansions=["author_id"])
    assert (found.data.text, int(found.data.author_id)) == ("v2 is live", int(posted["author_id"]))
    assert [u.username for u in found.includes["users"]] == ["project"]
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.post_reads, usage.user_reads) == (1, 1)
    assert RateWindow.objects.filter(credential="app:platform", endpoint="GET /2/tweets/:id")
    # A post X does not have: no data, X's error entry only.
    assert reader.post(123456789).data is None


def test_a_link_reads_with_its_own_token_counted_per_user_and_owned_reads_at_their_price(
    tenant, link_x
):
    """LinkReader: the linked account's likes read with its own OAuth token (X's call log
    names the user), counted in that user's window, billed at the owned-read price for
    its own likes and at the post price for anyone else's; no token: refused."""
    x = link_x
    alice_x, bob_x = x.add_account("alice"), x.add_account("bob")
    posts = [x.post("bob", f"post {i}")["id"] for i in range(3)]
    for post_id in (posts[2], posts[0]):
        x.like("alice", post_id)
    x.like("bob", posts[1])
    alice = user_touch(profile={"id": 9301, "username": "alice", "first_name": "Alice"})
    url = link_oauth_start(user=alice, tenant=tenant, redirect_uri=LINK_CALLBACK, confirmed=True)
    x.auto_approve("alice")
    consent = requests.get(url, allow_redirects=False, timeout=10)
    link = link_oauth_callback(callback_url=consent.headers["Location"])
    reader = LinkReader(tenant=tenant, priority=Priority.VALIDATION, link=link)

    mine = reader.liked_tweets(int(alice_x["id"]), max_results=5)
    assert [str(p.id) for p in mine.data] == [posts[0], posts[2]]  # the latest like first
    assert x.calls()[-1]["credential"].startswith(f"user:{alice_x['id']}@")
    window = RateWindow.objects.get(
        credential=f"link:{alice_x['id']}", endpoint="GET /2/users/:id/liked_tweets"
    )
    assert (window.used, window.limit) == (1, 75)  # X's per-user limit
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.owned_reads, usage.post_reads) == (2, 0)

    theirs = reader.liked_tweets(int(bob_x["id"]))
    assert [str(p.id) for p in theirs.data] == [posts[1]]
    usage.refresh_from_db()
    assert (usage.owned_reads, usage.post_reads) == (2, 1)

    link.access_token = ""  # a link made with a posted code holds no token
    with pytest.raises(ServiceError) as refused:
        LinkReader(tenant=tenant, priority=Priority.VALIDATION, link=link).liked_tweets(
            int(alice_x["id"])
        )
    assert refused.value.code == "x_no_token"
