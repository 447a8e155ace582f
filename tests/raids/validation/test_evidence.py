"""The fetchers on their own, against the sandbox X and Telegram: text rules, the choice
between the target's followers and per-participant ``following`` lookups, posts after
the grace window, and a bot that cannot see a join task's chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raids.validation import evidence
from xclient.models import Priority, XLink
from xclient.reader import LinkReader, XReader


@pytest.mark.parametrize(
    ("text", "params", "problem"),
    [
        ("@project congrats on V2!", {"required_words": ["v2"]}, ""),
        ("@project congrats on v20", {"required_words": ["v2"]}, "missing required word: v2"),
        ("@project @bob gm", {"min_length": 5}, "shorter than 5 characters"),
        ("@project gm https://t.co/abcdefghij", {"min_length": 5}, "shorter than 5 characters"),
        ("@project good morning", {"min_length": 5, "required_words": []}, ""),
    ],
)
def test_text_rules(text, params, problem):
    assert evidence.text_problem(text, params) == problem


def test_the_follow_rule_compares_pages_with_participants():
    assert evidence.follow_batched(0, 1)
    assert evidence.follow_batched(5_000, 5)  # 5 pages of followers for 5 people
    assert not evidence.follow_batched(5_001, 5)  # 6 pages: 5 lookups are cheaper
    assert not evidence.follow_batched(1_000_000, 300)


def test_a_big_target_is_checked_per_participant(raid_scene, raid_x):
    project = int(raid_x.target["author_id"])
    for n in range(2001):  # three pages of followers: more than two lookups
        raid_x.add_account(f"fan{n}")
        raid_x.follow(f"fan{n}", "project")
    yes, no = raid_x.add_account("yes"), raid_x.add_account("no")
    raid_x.follow("yes", "project")
    reader = XReader(tenant=raid_scene.tenant, priority=Priority.VALIDATION)
    found = evidence.follows(reader, target_id=project, wanted={int(yes["id"]), int(no["id"])})
    assert found.calls == {"GET /2/users": 1, "GET /2/users/:id/following": 2}
    assert found.verified == {int(yes["id"]): {"via": "following", "page": 1}}
    assert found.complete and not found.refused
    # Three participants: three pages of followers are no more than three lookups.
    three = {int(yes["id"]), int(no["id"]), int(raid_x.add_account("third")["id"])}
    batched = evidence.follows(reader, target_id=project, wanted=three)
    assert batched.calls == {"GET /2/users": 1, "GET /2/users/:id/followers": 3}
    assert set(batched.verified) == {int(yes["id"])}


def test_posts_after_the_grace_window_do_not_count(raid_scene, raid_x):
    post = int(raid_x.target["id"])
    late = raid_x.add_account("late")
    raid_x.reply("late", post, "congratulations to the team")
    raid_x.quote("late", post, "congratulations to the team")
    reader = XReader(tenant=raid_scene.tenant, priority=Priority.VALIDATION)
    past = datetime.now(UTC) - timedelta(minutes=1)
    for fetch in (evidence.replies, evidence.quotes):
        found = fetch(reader, post_id=post, wanted={int(late["id"])}, params={}, until=past)
        assert found.verified == {} and found.complete
        soon = fetch(
            reader,
            post_id=post,
            wanted={int(late["id"])},
            params={},
            until=past + timedelta(hours=1),
        )
        assert set(soon.verified) == {int(late["id"])}


def test_a_bot_that_cannot_see_the_chat_cannot_say(raid_scene, tg):
    from tests.helpers import tenant_bot_token

    tg.add_group(-1_007_399_999_999, title="Elsewhere", type="channel")
    found = evidence.joins(
        token=tenant_bot_token(raid_scene.tenant),
        chat_id=-1_007_399_999_999,
        wanted={raid_scene.owner["id"]},
    )
    owner = raid_scene.owner["id"]
    assert set(found.unverifiable) == {owner}
    assert found.unverifiable[owner]["reason"] in evidence.BOT_BLIND
    assert found.complete and not found.verified
    assert evidence.joins(token="", chat_id=1, wanted={1}).refused == "bot_token_missing"


def test_own_likes_are_read_past_the_cap_up_to_owned_pages(
    raid_scene, raid_x, linked, with_token, monkeypatch
):
    """Past liking_users' 100: a token's own likes are paged, latest first, at most
    OWNED_PAGES pages; found there: verified; all read without it: not found; more
    likes than the pages hold: unverifiable (an older like may be of this post)."""
    monkeypatch.setattr(evidence, "OWNED_PAGES", 1)
    post = int(raid_x.target["id"])
    users = {name: linked(raid_scene, raid_x, name) for name in ("deep", "busy", "none", "plain")}
    ids = {name: int(account["id"]) for name, (_, account) in users.items()}
    for name in ("deep", "busy", "plain"):
        raid_x.like(str(ids[name]), str(post))
    for n in range(100):  # the cap: 100 later likers; busy likes 100 posts since
        fan = raid_x.add_account(f"fan{n}")["id"]
        raid_x.like(fan, str(post))
        raid_x.like(str(ids["busy"]), raid_x.post("project", f"more {n}")["id"])
    readers = {
        ids[name]: LinkReader(
            tenant=raid_scene.tenant,
            priority=Priority.VALIDATION,
            link=with_token(raid_scene, raid_x, *users[name]),
        )
        for name in ("deep", "busy", "none")
    }
    asked: list[set[int]] = []

    def owned(accounts: set[int]) -> dict[int, LinkReader]:
        asked.append(accounts)
        return {k: r for k, r in readers.items() if k in accounts}

    reader = XReader(tenant=raid_scene.tenant, priority=Priority.VALIDATION)
    found = evidence.likes(reader, post_id=post, wanted=set(ids.values()), owned=owned)
    assert asked == [set(ids.values())]
    assert found.verified == {ids["deep"]: {"via": "liked_tweets", "page": 1}}
    assert found.unverifiable == {
        ids["busy"]: {"via": "liked_tweets", "reason": "past_owned_pages"},
        ids["plain"]: {"via": "liking_users", "reason": "past_100_cap"},
    }
    assert found.rejected == {
        ids["none"]: {"via": "liked_tweets", "reason": "not_found", "pages": 1}
    }
    assert found.complete and not found.refused and not found.undecided
    assert found.calls == {evidence.LIKERS: 1, evidence.LIKED: 3}  # one page each
    # Fewer than 100 likers: the list is whole, nobody's own likes are read.
    few = evidence.likes(
        reader,
        post_id=int(raid_x.post("project", "quiet")["id"]),
        wanted={ids["deep"]},
        owned=owned,
    )
    assert few.calls == {evidence.LIKERS: 1} and len(asked) == 1 and few.complete


def test_only_a_consented_link_with_like_read_reads_its_likes():
    def link(**fields) -> XLink:
        return XLink(
            **{"via": "oauth", "scopes": "tweet.read users.read like.read", "access_token": "t"}
            | fields
        )

    assert evidence.link_reads_likes(link())
    assert not evidence.link_reads_likes(link(scopes="tweet.read users.read"))
    assert not evidence.link_reads_likes(link(via="code"))
    assert not evidence.link_reads_likes(link(access_token=""))
    assert not evidence.link_reads_likes(link(unlinked_at=datetime.now(UTC)))
