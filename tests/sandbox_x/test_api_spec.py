"""Each endpoint's answers against the response schemas of X's published OpenAPI spec
(tests/data/x_api_v2_openapi.json), with every field and expansion the sandbox keeps, in
both dialects (tweepy's ``tweet.fields`` and the spec's ``post.fields``)."""

from __future__ import annotations

import pytest

from tests.sandbox_x.helpers import get, problem_errors, schema_errors, user_token

TWEET_VIEW = {
    "tweet.fields": "attachments,author_id,conversation_id,created_at,entities,"
    "in_reply_to_user_id,lang,public_metrics,referenced_tweets,possibly_sensitive,reply_settings",
    "expansions": "author_id,referenced_tweets.id,in_reply_to_user_id,entities.mentions.username,"
    "attachments.media_keys",
    "user.fields": "created_at,description,protected,public_metrics,verified",
    "media.fields": "url,preview_image_url,width,height",
}
POST_VIEW = {
    "post.fields": "author_id,conversation_id,created_at,entities,lang,public_metrics",
    "expansions": "author_id,referenced_posts",
    "user.fields": "created_at,description,protected,public_metrics,verified",
}
USER_VIEW = {"user.fields": "created_at,description,protected,public_metrics,verified"}


@pytest.fixture
def world(x, people):
    root = x.post(
        "alice",
        "gm #web3 $ETH @bob https://example.com",
        media=[{"type": "photo", "url": "https://img.example/a.jpg"}],
    )
    reply = x.reply("bob", root["id"], "gm @carol")
    x.quote("carol", root["id"], "look #web3")
    x.repost("carol", root["id"])
    x.like("bob", root["id"])
    return {
        "root": root["id"],
        "reply": reply["id"],
        "alice": people["alice"]["id"],
        "bob": people["bob"]["id"],
        "bob_token": user_token(x, "bob"),
    }


def _cases(w):
    return [
        ("/2/users/by/username/{username}", "/2/users/by/username/alice", USER_VIEW),
        ("/2/users/{id}", f"/2/users/{w['alice']}", USER_VIEW),
        ("/2/users", "/2/users", {"ids": f"{w['alice']},5", **USER_VIEW}),
        ("/2/users/{id}/tweets", f"/2/users/{w['alice']}/tweets", TWEET_VIEW),
        ("/2/users/{id}/tweets", f"/2/users/{w['alice']}/tweets", POST_VIEW),
        ("/2/users/{id}/mentions", f"/2/users/{w['alice']}/mentions", TWEET_VIEW),
        ("/2/users/{id}/following", f"/2/users/{w['alice']}/following", USER_VIEW),
        ("/2/users/{id}/followers", f"/2/users/{w['alice']}/followers", USER_VIEW),
        ("/2/tweets", "/2/tweets", {"ids": f"{w['root']},{w['reply']},5", **TWEET_VIEW}),
        ("/2/tweets/{id}", f"/2/tweets/{w['reply']}", TWEET_VIEW),
        ("/2/tweets/{id}", f"/2/tweets/{w['reply']}", POST_VIEW),
        ("/2/tweets/{id}", "/2/tweets/5", TWEET_VIEW),
        (
            "/2/tweets/search/recent",
            "/2/tweets/search/recent",
            {"query": "gm OR look", **TWEET_VIEW},
        ),
        ("/2/tweets/search/recent", "/2/tweets/search/recent", {"query": "gm", **POST_VIEW}),
        ("/2/tweets/{id}/liking_users", f"/2/tweets/{w['root']}/liking_users", USER_VIEW),
        ("/2/tweets/{id}/retweeted_by", f"/2/tweets/{w['root']}/retweeted_by", USER_VIEW),
        ("/2/tweets/{id}/quote_tweets", f"/2/tweets/{w['root']}/quote_tweets", TWEET_VIEW),
        ("/2/tweets/search/stream/rules", "/2/tweets/search/stream/rules", {}),
        (
            "/2/users/{id}/liked_tweets",
            f"/2/users/{w['bob']}/liked_tweets",
            {**TWEET_VIEW, "token": w["bob_token"]},
        ),
        (
            "/2/users/{id}/liked_tweets",
            f"/2/users/{w['bob']}/liked_tweets",
            {**POST_VIEW, "token": w["bob_token"]},
        ),
    ]


def test_every_answer_fits_the_spec(x, world):
    for spec_path, path, params in _cases(world):
        answer = get(x, path, **params)
        assert answer.status_code == 200, (path, answer.text)
        body = answer.json()
        assert schema_errors(body, spec_path) == [], (path, params)
        assert "data" in body or "errors" in body or "meta" in body


def test_the_spec_dialect_uses_the_spec_names(x, world):
    body = get(x, f"/2/tweets/{world['reply']}", **POST_VIEW).json()
    assert body["data"]["referenced_posts"] == [{"type": "replied_to", "id": world["root"]}]
    assert "referenced_tweets" not in body["data"]
    assert [p["id"] for p in body["includes"]["posts"]] == [world["root"]]
    assert body["data"]["edit_history_post_ids"] == [world["reply"]]


def test_refusals_fit_the_problem_schema(x, world):
    bad_max = get(x, "/2/tweets/search/recent", query="gm", max_results=5)
    assert bad_max.status_code == 400
    assert problem_errors(bad_max.json()) == []
    assert bad_max.json()["errors"][0]["parameters"] == {"max_results": ["5"]}
    bad_query = get(x, "/2/tweets/search/recent", query="gm OR")
    assert bad_query.status_code == 400
    assert problem_errors(bad_query.json()) == []
    missing = get(x, "/2/tweets/5").json()["errors"][0]
    assert problem_errors(missing) == []
