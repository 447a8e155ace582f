"""The mention API of a group: its rules (create, replace by id, list, delete; terms
normalised, bad ones a 400 naming the field) and the posts they matched, newest first
with the spam reason and a spam filter; another community's admin reaches nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django_tenants.utils import tenant_context

from xfeed.models import Mention, MentionRule, Post


def rules_url(chat: int, rule_id: int | None = None) -> str:
    base = f"/api/v1/groups/{chat}/x/mention-rules"
    return f"{base}/{rule_id}" if rule_id else base


def mentions_url(chat: int) -> str:
    return f"/api/v1/groups/{chat}/x/mentions"


@pytest.fixture
def admin(tenant, user_with_role, client_for):
    user_with_role(tenant, "admin", user_id=8301, username="admin")
    return client_for(tenant, user_id=8301, username="admin")


RULE = {
    "name": "brand",
    "keywords": ["bragabot", "to the moon"],
    "hashtags": ["#braga"],
    "cashtags": ["$brg"],
    "mentions": ["@bragabot_demo"],
    "exclusions": ["giveaway"],
    "min_followers": 10,
    "languages": ["en"],
}


def test_an_admin_creates_replaces_lists_and_deletes_rules(tenant, admin, bound_group):
    chat = bound_group(tenant)
    created = admin.post(rules_url(chat), RULE, format="json")
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert (rule["hashtags"], rule["cashtags"], rule["mentions"]) == (
        ["braga"],
        ["BRG"],
        ["bragabot_demo"],
    )
    again = admin.post(rules_url(chat), {**RULE, "keywords": ["braga bot"]}, format="json")
    assert (again.status_code, again.json()["id"]) == (200, rule["id"])
    replaced = admin.put(
        rules_url(chat, rule["id"]), {"name": "renamed", "hashtags": ["x1"]}, format="json"
    )
    assert replaced.status_code == 200, replaced.json()
    assert (replaced.json()["name"], replaced.json()["keywords"]) == ("renamed", [])
    admin.post(rules_url(chat), {"name": "second", "keywords": ["gm"]}, format="json")
    listed = admin.get(rules_url(chat)).json()["results"]
    assert [r["name"] for r in listed] == ["second", "renamed"]
    assert admin.delete(rules_url(chat, rule["id"])).status_code == 204
    assert admin.delete(rules_url(chat, rule["id"])).status_code == 404
    assert [r["name"] for r in admin.get(rules_url(chat)).json()["results"]] == ["second"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"keywords": ["a"]}, "name"),
        ({"name": "r"}, "keywords"),
        ({"name": "r", "keywords": "bragabot"}, "keywords"),
        ({"name": "r", "keywords": ['"quoted"']}, "keywords"),
        ({"name": "r", "hashtags": ["#"]}, "hashtags"),
        ({"name": "r", "cashtags": ["$1234"]}, "cashtags"),
        ({"name": "r", "mentions": ["@not a handle"]}, "mentions"),
        ({"name": "r", "keywords": ["a"], "exclusions": ["(x"]}, "exclusions"),
        ({"name": "r", "keywords": ["a"], "languages": ["english"]}, "languages"),
        ({"name": "r", "keywords": ["a"], "min_followers": -5}, "min_followers"),
        ({"name": "r", "keywords": ["a"], "min_followers": "many"}, "min_followers"),
        ({"name": "r", "keywords": ["a"], "colour": "red"}, "colour"),
        ({"name": "r", "keywords": [f"longkeyword{i:03d}" for i in range(40)]}, "keywords"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(tenant, admin, bound_group, payload, field):
    chat = bound_group(tenant)
    response = admin.post(rules_url(chat), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"], response.json()
    with tenant_context(tenant):
        assert not MentionRule.objects.exists()


def _mention(rule: MentionRule, post_id: int, text: str, spam_reason: str = "") -> Mention:
    post = Post.objects.create(
        post_id=post_id,
        author_id=77,
        author_username="fan",
        kind="original",
        text=text,
        lang="en",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        received_at=datetime(2026, 12, 1, tzinfo=UTC),
        via="poll",
    )
    return Mention.objects.create(
        post=post, rule=rule, spam_reason=spam_reason, relayed=not spam_reason
    )


def test_mentions_are_listed_newest_first_with_the_spam_reason(tenant, admin, bound_group):
    chat, other = bound_group(tenant), bound_group(tenant)
    with tenant_context(tenant):
        rule = MentionRule.objects.create(chat_id=chat, name="r", keywords=["braga"])
        elsewhere = MentionRule.objects.create(chat_id=other, name="r", keywords=["braga"])
        _mention(rule, 101, "braga is great")
        _mention(rule, 102, "braga braga braga", spam_reason="repeated_text")
        _mention(rule, 103, "gm braga")
        _mention(elsewhere, 104, "not this group's")
    listed = admin.get(mentions_url(chat), {"page_size": 2}).json()
    assert [m["post_id"] for m in listed["results"]] == ["103", "102"]
    assert listed["results"][1]["spam_reason"] == "repeated_text"
    assert listed["results"][0]["url"] == "https://x.com/fan/status/103"
    rest = admin.get(listed["next"]).json()
    assert [m["post_id"] for m in rest["results"]] == ["101"]
    spam = admin.get(mentions_url(chat), {"spam": "true"}).json()["results"]
    assert [m["post_id"] for m in spam] == ["102"]
    clean = admin.get(mentions_url(chat), {"spam": "false"}).json()["results"]
    assert [m["post_id"] for m in clean] == ["103", "101"]
    bad = admin.get(mentions_url(chat), {"spam": "perhaps"})
    assert bad.status_code == 400 and bad.json()["detail"].startswith("spam: ")


def test_another_community_s_admin_reaches_nothing(
    make_tenant, user_with_role, client_for, bound_group
):
    a, b = make_tenant(), make_tenant()
    a_chat, b_chat = bound_group(a), bound_group(b)
    user_with_role(b, "admin", user_id=8302, username="b_admin")
    b_admin = client_for(b, user_id=8302, username="b_admin")
    b_rule = b_admin.post(rules_url(b_chat), {"name": "b", "keywords": ["x"]}, format="json")
    b_rule_id = b_rule.json()["id"]
    user_with_role(a, "admin", user_id=8303, username="a_admin")
    a_admin = client_for(a, user_id=8303, username="a_admin")
    assert a_admin.get(rules_url(b_chat)).status_code == 404
    assert a_admin.get(mentions_url(b_chat)).status_code == 404
    # B's rule id named under A's own group: no rule of A's.
    put = a_admin.put(rules_url(a_chat, b_rule_id), {"name": "b", "keywords": ["y"]}, format="json")
    assert put.status_code == 404
    assert a_admin.delete(rules_url(a_chat, b_rule_id)).status_code == 404
    stranger = client_for(b, user_id=8303, username="a_admin")
    assert stranger.get(rules_url(b_chat)).status_code == 403
    assert stranger.delete(rules_url(b_chat, b_rule_id)).status_code == 403
    with tenant_context(b):
        assert MentionRule.objects.get().keywords == ["x"]
