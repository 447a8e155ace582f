"""The mention spam filter on posts as the sandbox X returns them: brand-new accounts,
link-only posts, the same text from another author within the hour (looked up in the
community's posts by the text's digest)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django_tenants.utils import tenant_context

from tests.xfeed.helpers import aged, fetch, sim_now
from xfeed.models import Post
from xfeed.posts import XPost
from xfeed.spam import (
    LINK_ONLY,
    NEW_ACCOUNT,
    REPEATED_TEXT,
    is_link_only,
    is_new_account,
    normalized_text,
    spam_reason,
    text_key,
)


def one(x, query: str) -> XPost:
    [post] = fetch(x, query)
    return post


def store(post: XPost, *, now) -> None:
    Post.objects.create(
        post_id=post.post_id,
        author_id=post.author_id,
        author_username=post.author_username,
        kind=post.kind,
        text=post.text,
        created_at=post.created_at,
        received_at=now,
        via="poll",
        text_key=text_key(post.text),
    )


def test_an_account_younger_than_the_minimum_is_new(xsim, settings):
    settings.XFEED_SPAM_MIN_ACCOUNT_DAYS = 7
    xsim.add_account("fresh")
    xsim.advance(7 * 86400 - 60)
    xsim.post("fresh", "six days and 23 hours old")
    post = one(xsim, "from:fresh")
    assert is_new_account(post) and spam_reason(post) == NEW_ACCOUNT
    xsim.advance(60)
    xsim.post("fresh", "seven days old")
    [_, older] = fetch(xsim, "from:fresh")
    assert not is_new_account(older)
    assert is_new_account(older, min_days=8)
    assert not is_new_account(replace(post, author_created_at=None))  # unknown age


def test_links_mentions_and_tags_alone_are_link_only(xsim):
    aged(xsim, "a", "fan")
    cases = {
        "https://phish.example": True,
        "https://phish.example @fan #bragabot $BRGA": True,
        "@fan @fan!! https://x.example/1 https://x.example/2": True,
        "claim now https://phish.example": False,
        "gm": False,
        "#bragabot to the moon": False,
    }
    for text in cases:
        xsim.post("a", text)
    found = {p.text: is_link_only(p) for p in fetch(xsim, "from:a")}
    assert found == cases
    reposted = xsim.repost("fan", xsim.post("a", "words of a post")["id"])
    repost = next(p for p in fetch(xsim, "from:fan") if p.post_id == int(reposted["id"]))
    assert repost.text.startswith("RT @a:") and not is_link_only(repost)


def test_copies_share_a_text_key(xsim):
    assert normalized_text("Bragabot made our group FUN! https://x.example @fan") == (
        "bragabot made our group fun"
    )
    assert text_key("bragabot  made our group fun") == text_key("BRAGABOT made our group fun!!")
    assert text_key("bragabot made our group fun") != text_key("bragabot made our day fun")
    assert text_key("https://x.example @fan") == ""


def test_the_same_text_from_another_author_within_the_hour_is_repeated(feed, xsim):
    aged(xsim, "first", "second", "third")
    group = feed()
    xsim.post("first", "best bot ever, try bragabot")
    xsim.advance(30 * 60)
    xsim.post("first", "Best bot ever, try Bragabot!")  # the same author again: not spam
    xsim.post("second", "BEST BOT EVER try bragabot https://ref.example/1")
    xsim.advance(31 * 60)
    xsim.post("third", "best bot ever try bragabot")  # 61 minutes after the first
    posts = {p.author_username + str(i): p for i, p in enumerate(fetch(xsim, "bragabot"))}
    first, first_again, second, third = posts.values()
    with tenant_context(group.tenant):
        assert spam_reason(first) == ""  # nothing stored yet
        store(first, now=sim_now(xsim))
        assert spam_reason(first_again) == ""
        assert spam_reason(second) == REPEATED_TEXT
        store(first_again, now=sim_now(xsim))
        # An hour after the first copy, 31 minutes after the second one of "first".
        assert spam_reason(third) == REPEATED_TEXT
        Post.objects.filter(post_id=first_again.post_id).delete()
        assert spam_reason(third) == ""
        assert (
            spam_reason(replace(second, created_at=first.created_at - timedelta(seconds=1))) == ""
        )


def test_reasons_are_checked_cheapest_first(xsim):
    xsim.add_account("newbie")
    xsim.post("newbie", "https://phish.example")
    assert spam_reason(one(xsim, "from:newbie")) == NEW_ACCOUNT
    xsim.advance(30 * 86400)
    xsim.post("newbie", "https://phish.example/2")
    assert spam_reason(fetch(xsim, "from:newbie")[-1]) == LINK_ONLY
