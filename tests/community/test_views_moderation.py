"""The moderation API: a group's rules (GET/PUT) and its action log."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from community.models import ModerationRules
from community.rules import DEFAULT_RULES
from history.models import Entry


@pytest.fixture
def moderator(scene, user_with_role, client_for):
    user_with_role(scene.tenant, "moderator", user_id=777001, username="mod")
    return client_for(scene.tenant, user_id=777001, username="mod")


def _url(scene, suffix: str = "") -> str:
    return f"/api/v1/groups/{scene.chat_id}/moderation{suffix}"


def test_get_rules_of_a_group_without_any_is_the_defaults(scene, moderator):
    response = moderator.get(_url(scene))

    assert response.status_code == 200
    assert response.json() == DEFAULT_RULES


def test_put_replaces_the_rules_turns_moderation_on_and_is_audited(scene, moderator):
    document = {
        "enabled": True,
        "flood": {"messages": 5, "seconds": 10, "action": "ban"},
        "blocklist": {"words": ["Scam*", "free  * money", "scam*"], "action": "escalate"},
        "escalation": {"ladder": [{"action": "warn"}, {"action": "ban"}], "window_hours": 48},
    }

    response = moderator.put(_url(scene), document, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["flood"] == {
        "enabled": True,
        "messages": 5,
        "seconds": 10,
        "action": "ban",
        "mute_seconds": 600,
    }
    # Normalised and deduplicated: lower case, one space, no repeats.
    assert body["blocklist"]["words"] == ["scam*", "free * money"]
    assert body["new_members"] == DEFAULT_RULES["new_members"]  # omitted: defaults
    assert moderator.get(_url(scene)).json() == body
    assert scene.group().effective_features["moderation"] is True
    entry = Entry.objects.get(tenant=scene.tenant, action="moderation.rules_updated")
    assert entry.actor_id == "777001" and entry.target_id == str(scene.chat_id)
    changed = entry.data["changed"]
    assert changed["enabled"] == {"from": False, "to": True}
    assert changed["blocklist"]["words"] == {"added": ["scam*", "free * money"], "removed": []}
    assert set(changed) == {"enabled", "flood", "blocklist", "escalation"}

    # The same document again changes nothing and audits nothing.
    moderator.put(_url(scene), document, format="json")
    assert Entry.objects.filter(action="moderation.rules_updated", tenant=scene.tenant).count() == 1


@pytest.mark.parametrize(
    ("document", "code", "detail"),
    [
        ({"flood": {"messages": 1}}, "invalid_rules", "flood.messages: must be between 2 and 100"),
        ({"flood": {"action": "explode"}}, "invalid_choice", "flood: action: "),
        ({"blocklist": {"words": ["a*b"]}}, "invalid_rules", "blocklist.words[0]: '*' may only"),
        ({"blocklist": {"words": ["***"]}}, "invalid_rules", "blocklist.words[0]: needs at least"),
        ({"blocklist": {"words": ["x" * 65]}}, "invalid_rules", "blocklist.words[0]: at most 64"),
        (
            {"escalation": {"ladder": [{"action": "ban"}, {"action": "warn"}]}},
            "invalid_rules",
            "escalation.ladder[0]: ban must be the last step",
        ),
        (
            {"escalation": {"ladder": [{"action": "mute"}]}},
            "invalid_rules",
            "escalation.ladder[0].mute_seconds: must be an integer",
        ),
        ({"escalation": {"ladder": []}}, "invalid_rules", "escalation.ladder: must list 1 to 10"),
        ({"captcha": {"timeout_seconds": 5}}, "invalid_rules", "captcha.timeout_seconds"),
        ({"flood": {"mute_seconds": 10}}, "invalid_rules", "flood.mute_seconds"),
        ({"flod": {}}, "unknown_field", "unknown field flod"),
        ({"flood": {"limit": 3}}, "unknown_field", "flood: unknown field limit"),
    ],
)
def test_invalid_rules_are_refused_and_nothing_changes(scene, moderator, document, code, detail):
    moderator.put(_url(scene), {"enabled": True, "blocklist": {"words": ["keep"]}}, format="json")
    audited = Entry.objects.filter(tenant=scene.tenant).count()

    response = moderator.put(_url(scene), {"enabled": False, **document}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"].startswith(detail)
    assert moderator.get(_url(scene)).json()["blocklist"]["words"] == ["keep"]
    assert scene.group().effective_features["moderation"] is True
    assert Entry.objects.filter(tenant=scene.tenant).count() == audited


def test_unknown_group_is_404(scene, moderator):
    for response in (
        moderator.get("/api/v1/groups/-1009/moderation"),
        moderator.put("/api/v1/groups/-1009/moderation", {}, format="json"),
        moderator.get("/api/v1/groups/-1009/moderation/actions"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "group_not_found"
    with tenant_context(scene.tenant):
        assert not ModerationRules.objects.exists()


def test_members_may_not_read_or_change_rules(scene, client_for):
    member = client_for(scene.tenant, user_id=777002, username="someone")

    assert member.get(_url(scene)).status_code == 403
    assert member.put(_url(scene), {"enabled": True}, format="json").status_code == 403
    assert member.get(_url(scene, "/actions")).status_code == 403


def test_action_log_says_who_what_which_rule_and_why(scene, moderator):
    moderator.put(
        _url(scene),
        {
            "enabled": True,
            "flood": {"enabled": False},
            "new_members": {"enabled": False},
            "blocklist": {"words": ["rug*"], "action": "escalate"},
        },
        format="json",
    )
    bad, good = scene.user("baddie"), scene.user("goodie")
    scene.say(bad, "this project will rugpull tomorrow, sell now")
    scene.say(good, "gm")
    scene.say(bad, "RUG incoming")

    response = moderator.get(_url(scene, "/actions"))

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["user_id"], r["action"], r["strike"]) for r in results] == [
        (bad["id"], "warn", 2),
        (bad["id"], "warn", 1),
    ]
    first = results[1]
    assert first["user_name"] == "Baddie" and first["rule"] == "blocklist"
    assert first["pattern"] == "rug*" and first["reason"] == "blocked word 'rug*'"
    assert first["excerpt"] == "this project will rugpull tomorrow, sell now"
    assert first["message_id"] and first["created_at"] and first["error"] == ""

    # Filters and the cursor.
    assert moderator.get(_url(scene, f"/actions?user_id={good['id']}")).json()["results"] == []
    assert len(moderator.get(_url(scene, "/actions?rule=blocklist")).json()["results"]) == 2
    page = moderator.get(_url(scene, "/actions?page_size=1")).json()
    assert len(page["results"]) == 1 and page["next"]
    assert moderator.get(_url(scene, "/actions?rule=nope")).status_code == 400
