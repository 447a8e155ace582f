"""The fetchers on their own, against the sandbox X and Telegram: text rules, the choice
between the target's followers and per-participant ``following`` lookups, posts after
the grace window, and a bot that cannot see a join task's chat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from raids.validation import evidence
from xclient.models import Priority
from xclient.reader import XReader


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
