"""Every read endpoint through tweepy's Client: fields and expansions, partial errors,
paging (tokens, since_id/until_id, max_results bounds), the liking_users cap, and 401."""

from __future__ import annotations

import pytest
import tweepy

from tests.sandbox_x.helpers import client, get, user_token


def test_users_by_username_id_and_fields(x, people):
    c = client(x)
    alice = people["alice"]
    by_name = c.get_user(username="ALICE", user_fields=["public_metrics", "created_at", "verified"])
    assert by_name.data.id == int(alice["id"])
    assert by_name.data.public_metrics["followers_count"] == 2
    assert by_name.data.public_metrics["following_count"] == 1
    assert by_name.data.verified is True
    by_id = c.get_user(id=alice["id"])
    assert by_id.data.username == "alice"
    assert by_id.data.data == {"id": alice["id"], "name": "Alice", "username": "alice"}


def test_unknown_user_and_post_are_errors_in_a_200(x, people):
    c = client(x)
    missing_user = c.get_user(username="nobody")
    assert missing_user.data is None
    assert missing_user.errors[0]["title"] == "Not Found Error"
    assert missing_user.errors[0]["parameter"] == "username"
    missing_post = c.get_tweet("42")
    assert missing_post.data is None
    assert missing_post.errors[0]["resource_id"] == "42"
    with pytest.raises(tweepy.BadRequest):
        c.get_tweet("not-a-number")


def test_post_fields_and_expansions(x, people):
    c = client(x)
    root = x.post("alice", "gm #web3 $ETH @bob see https://example.com/a")
    reply = x.reply("bob", root["id"], "gm!")
    x.like("carol", root["id"])
    x.repost("carol", root["id"])
    x.quote("carol", root["id"], "quoting")
    x.view_post(root["id"], 7)

    got = c.get_tweet(
        reply["id"],
        tweet_fields=["author_id", "conversation_id", "created_at", "in_reply_to_user_id", "lang"],
        expansions=["author_id", "referenced_tweets.id", "in_reply_to_user_id"],
    )
    assert got.data.text == "@alice gm!"
    assert got.data.conversation_id == int(root["id"])
    assert got.data.in_reply_to_user_id == int(people["alice"]["id"])
    assert got.data.referenced_tweets[0].type == "replied_to"
    assert [t.id for t in got.includes["tweets"]] == [int(root["id"])]
    assert {u.username for u in got.includes["users"]} == {"alice", "bob"}
    assert got.data.created_at.year == 2026

    full = c.get_tweet(root["id"], tweet_fields=["public_metrics", "entities"])
    assert full.data.public_metrics == {
        "retweet_count": 1,
        "repost_count": 1,
        "reply_count": 1,
        "like_count": 1,
        "quote_count": 1,
        "bookmark_count": 0,
        "impression_count": 7,
    }
    entities = full.data.entities
    assert entities["hashtags"] == [{"start": 3, "end": 8, "tag": "web3"}]
    assert entities["cashtags"][0]["tag"] == "ETH"
    assert entities["mentions"][0] == {
        "start": 14, "end": 18, "username": "bob", "id": people["bob"]["id"]
    }  # fmt: skip
    assert entities["urls"][0]["url"] == "https://example.com/a"

    with pytest.raises(tweepy.BadRequest):
        c.get_tweet(root["id"], tweet_fields=["no_such_field"])


def test_tweets_lookup_reports_missing_ids_beside_found_ones(x, people):
    p = x.post("alice", "one")
    got = client(x).get_tweets([p["id"], "1"])
    assert [t.id for t in got.data] == [int(p["id"])]
    assert got.errors[0]["value"] == "1"


def test_users_lookup_by_ids_with_follower_counts(x, people):
    x.follow("alice", "bob")
    got = client(x).get_users(
        ids=[people["alice"]["id"], "7", people["bob"]["id"]], user_fields=["public_metrics"]
    )
    assert [u.username for u in got.data] == ["alice", "bob"]  # in the order asked
    followers = [u.public_metrics["followers_count"] for u in got.data]
    assert followers == [2, 1]  # bob and carol follow alice; alice follows bob
    assert (got.errors[0]["value"], got.errors[0]["resource_type"]) == ("7", "user")
    with pytest.raises(tweepy.BadRequest):
        client(x).get_users(ids=[str(n) for n in range(101)])


def test_user_timelines_mentions_and_excludes(x, people):
    c = client(x)
    own = x.post("alice", "mine")
    x.reply("alice", own["id"], "my reply")
    x.repost("alice", x.post("bob", "bob's")["id"])
    x.post("bob", "hey @alice")
    timeline = c.get_users_tweets(people["alice"]["id"])
    assert [t.text for t in timeline.data] == ["RT @bob: bob's", "@alice my reply", "mine"]
    no_rt = c.get_users_tweets(people["alice"]["id"], exclude=["retweets", "replies"])
    assert [t.text for t in no_rt.data] == ["mine"]
    mentions = c.get_users_mentions(people["alice"]["id"])
    assert [t.text for t in mentions.data] == ["hey @alice", "@alice my reply"]
    assert mentions.meta["newest_id"] == str(mentions.data[0].id)


def test_search_recent_with_operators_and_seven_day_window(x, people, clock):
    c = client(x)
    old = x.post("alice", "launch day #bragabot")
    clock.advance(8 * 24 * 3600)
    new = x.post("bob", "launch again #bragabot")
    x.post("carol", "unrelated")
    got = c.search_recent_tweets("#bragabot launch -from:carol")
    assert [t.id for t in got.data] == [int(new["id"])]  # the 8-day-old post is out of range
    assert int(old["id"]) < int(new["id"])
    with pytest.raises(tweepy.BadRequest) as refused:
        c.search_recent_tweets("(launch")
    assert refused.value.response.json()["title"] == "Invalid Request"
    assert "parentheses" in refused.value.api_messages[0]


def test_search_pages_walk_everything_once_and_respect_since_until(x, people):
    ids = [x.post("alice", f"page item {i}")["id"] for i in range(25)]
    c = client(x)
    seen, token = [], None
    while True:
        page = c.search_recent_tweets("page", max_results=10, next_token=token)
        seen += [str(t.id) for t in page.data]
        token = page.meta.get("next_token")
        if token is None:
            break
        x.post("alice", "page item arriving meanwhile")  # newer: not on later pages
    assert seen == list(reversed(ids))
    window = c.search_recent_tweets("page", since_id=ids[4], until_id=ids[8])
    assert [str(t.id) for t in window.data] == [ids[7], ids[6], ids[5]]
    for bad in (9, 101):
        with pytest.raises(tweepy.BadRequest):
            c.search_recent_tweets("page", max_results=bad)


def test_liking_users_keeps_the_100_most_recent_and_pages_them(x, people):
    post = x.post("alice", "like me")
    likers = [x.add_account(f"fan{i}")["id"] for i in range(130)]
    for liker in likers:
        x.like(liker, post["id"])
    c = client(x)
    seen, token = [], None
    while True:
        page = c.get_liking_users(post["id"], max_results=30, pagination_token=token)
        seen += [str(u.id) for u in page.data]
        token = page.meta.get("next_token")
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 100
    assert seen == list(reversed(likers))[:100]  # the most recent first; the oldest 30 are gone
    with pytest.raises(tweepy.BadRequest):
        c.get_liking_users(post["id"], max_results=101)


def test_retweeted_by_quote_tweets_and_following(x, people):
    c = client(x)
    post = x.post("alice", "share me")
    x.repost("bob", post["id"])
    x.repost("carol", post["id"])
    quote = x.quote("bob", post["id"], "so true")
    assert [u.username for u in c.get_retweeters(post["id"]).data] == ["carol", "bob"]
    quotes = c.get_quote_tweets(post["id"], expansions=["author_id"])
    assert [t.id for t in quotes.data] == [int(quote["id"])]
    assert quotes.includes["users"][0].username == "bob"
    x.follow("bob", "carol")
    following = c.get_users_following(people["bob"]["id"], max_results=1)
    assert [u.username for u in following.data] == ["carol"]  # the latest follow first
    rest = c.get_users_following(people["bob"]["id"], pagination_token=following.meta["next_token"])
    assert [u.username for u in rest.data] == ["alice"]
    assert "next_token" not in rest.meta
    with pytest.raises(tweepy.BadRequest):
        c.get_users_following(people["bob"]["id"], pagination_token="!!not-a-token")


def test_followers_latest_first_paged_1_to_1000(x, people):
    c = client(x)
    followers = c.get_users_followers(people["alice"]["id"], max_results=1)
    assert [u.username for u in followers.data] == ["carol"]  # the latest follow first
    rest = c.get_users_followers(
        people["alice"]["id"], pagination_token=followers.meta["next_token"]
    )
    assert [u.username for u in rest.data] == ["bob"]
    assert "next_token" not in rest.meta
    assert len(c.get_users_followers(people["alice"]["id"], max_results=1000).data) == 2
    assert c.get_users_followers(people["bob"]["id"]).data is None  # nobody: no data
    for bad in (0, 1001):
        with pytest.raises(tweepy.BadRequest):
            c.get_users_followers(people["alice"]["id"], max_results=bad)
    assert x.calls()[-1]["path"] == f"/2/users/{people['alice']['id']}/followers"


def test_bad_or_missing_token_is_401_with_x_body(x, people):
    with pytest.raises(tweepy.Unauthorized):
        client(x, token="wrong").get_user(username="alice")
    answer = get(x, "/2/users/by/username/alice", token=None)
    assert answer.status_code == 401
    assert answer.json() == {
        "title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"
    }  # fmt: skip
    assert x.calls()[-1]["status"] == 401


def test_calls_are_logged_with_the_credential(x, people):
    client(x).get_user(username="alice")
    call = x.calls(path="/2/users/by/username/alice")[0]
    assert (call["method"], call["credential"], call["status"]) == ("GET", "app:app1", 200)


def test_liked_tweets_lists_an_accounts_likes_latest_first_to_user_tokens_only(x, people):
    posts = [x.post("alice", f"post {i}")["id"] for i in range(12)]
    for post_id in [posts[3], posts[0], posts[11], posts[7]]:  # liked in this order
        x.like("bob", post_id)
    x.like("carol", posts[5])
    bob = people["bob"]["id"]
    c = client(x, user_token(x, "bob"))
    seen, token = [], None
    while True:
        page = c.get_liked_tweets(bob, max_results=5, pagination_token=token)
        seen += [str(p.id) for p in page.data]
        token = page.meta.get("next_token")
        assert "newest_id" not in page.meta  # ordered by like, not by post id
        if token is None:
            break
    assert seen == [posts[7], posts[11], posts[0], posts[3]]  # the latest like first
    everyone = c.get_liked_tweets(people["carol"]["id"])  # any account's, with a user token
    assert [str(p.id) for p in everyone.data] == [posts[5]]
    for bad in (4, 101):
        with pytest.raises(tweepy.BadRequest):
            c.get_liked_tweets(bob, max_results=bad)
    app_only = get(x, f"/2/users/{bob}/liked_tweets")
    assert app_only.status_code == 403
    assert "Unsupported Authentication" in app_only.text
