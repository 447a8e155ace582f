"""Posts as X returns them (search pages from the sandbox X over tweepy, a stream line)
become flat records with their author and media joined in, whichever path brought them."""

from __future__ import annotations

from datetime import datetime

import pytest
import tweepy

from tests.xfeed.helpers import PLATFORM_APP_TOKEN
from xclient.transport import x_client
from xfeed.posts import READ_FIELDS, posts_from_response


@pytest.fixture
def x(platform_x):
    return platform_x


def search(x, query: str) -> tweepy.Response:
    client = x_client(base_url=x.base_url, bearer_token=PLATFORM_APP_TOKEN)
    return client.search_recent_tweets(query, max_results=100, **READ_FIELDS)


def test_every_kind_of_post_with_its_author_and_entities(x):
    project = x.add_account("project")
    x.add_account("fan")
    original = x.post("project", "gm #Launch $BRGA with @fan https://bragabot.example")
    reply = x.reply("fan", original["id"], "wagmi")
    quote = x.quote("fan", original["id"], "look at this")
    repost = x.repost("fan", original["id"])

    posts = posts_from_response(search(x, f"from:{project['username']} OR from:fan"))

    assert [p.post_id for p in posts] == sorted(
        int(p["id"]) for p in (original, reply, quote, repost)
    )
    by_id = {p.post_id: p for p in posts}
    first = by_id[int(original["id"])]
    assert (first.kind, first.referenced_id) == ("original", None)
    assert first.author_id == int(project["id"])
    assert first.author_username == "project"
    assert first.author_followers == 0
    assert isinstance(first.author_created_at, datetime)
    assert (first.hashtags, first.cashtags, first.mentions) == (("launch",), ("brga",), ("fan",))
    assert first.urls == ("https://bragabot.example",)
    assert first.lang == "en"
    assert first.link == f"https://x.com/project/status/{original['id']}"
    assert first.conversation_id == first.post_id
    for made, kind in ((reply, "reply"), (quote, "quote"), (repost, "repost")):
        post = by_id[int(made["id"])]
        assert (post.kind, post.referenced_id) == (kind, int(original["id"]))
        assert post.author_username == "fan"
    assert by_id[int(reply["id"])].conversation_id == first.post_id


def test_followers_come_from_the_author_x_included(x):
    x.add_account("project")
    for n in range(3):
        x.add_account(f"follower{n}")
        x.follow(f"follower{n}", "project")
    x.post("project", "hello")
    (post,) = posts_from_response(search(x, "from:project"))
    assert post.author_followers == 3


def test_a_stream_line_and_media_previews():
    # A stream line carries one post; its photo and video come from includes.media.
    line = tweepy.StreamResponse(
        data=tweepy.Tweet(
            {
                "id": "1900000000000000001",
                "edit_history_tweet_ids": ["1900000000000000001"],
                "text": "new drop",
                "author_id": "42",
                "created_at": "2026-12-01T10:00:00.000Z",
                "attachments": {"media_keys": ["3_1", "7_2", "3_missing"]},
            }
        ),
        includes={
            "users": [tweepy.User({"id": "42", "name": "P", "username": "project"})],
            "media": [
                tweepy.Media({"media_key": "3_1", "type": "photo", "url": "https://p/1.jpg"}),
                tweepy.Media(
                    {"media_key": "7_2", "type": "video", "preview_image_url": "https://p/2.jpg"}
                ),
            ],
        },
        errors=[],
        matching_rules=[],
    )
    (post,) = posts_from_response(line)
    assert post.media == (
        {"type": "photo", "url": "https://p/1.jpg"},
        {"type": "video", "url": "https://p/2.jpg"},
    )
    assert (post.kind, post.author_username, post.author_followers) == ("original", "project", None)


def test_an_empty_page_has_no_posts(x):
    x.add_account("project")
    assert posts_from_response(search(x, "from:project")) == []
