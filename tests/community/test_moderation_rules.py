"""The in-memory parts of moderation: blocklist patterns, the flood counter, the rules
document's defaults. No database, no Telegram."""

from __future__ import annotations

import pytest

from community.rules import (
    DEFAULT_RULES,
    Blocklist,
    CompiledRules,
    FloodTracker,
    MessageFacts,
    rules_effective,
    rules_validate,
)
from config.errors import ServiceError


def _find(words: list[str], text: str) -> str | None:
    checked = rules_validate({"blocklist": {"words": words}})["blocklist"]["words"]
    found = Blocklist.compile(checked).find(text)
    return found[0] if found else None


@pytest.mark.parametrize(
    ("pattern", "text", "hit"),
    [
        ("*coin", "buy bitcoin now", True),
        ("*coin", "coins", False),
        ("scam*", "Scammer!", True),
        ("*rug*", "a drugstore", True),
        ("free * money", "FREE  easy\nmoney", True),
        ("free * money", "free money", False),  # a lone * is exactly one word
        ("c++", "I write C++ daily", True),  # regex characters are literal
        ("c++", "I write cpp daily", False),
        ("t.me/joinchat", "t.me/joinchat/abc", True),
        ("t.me/joinchat", "tXme/joinchat", False),
        ("ёлка", "ЁЛКА", True),  # Unicode letters and case
        ("gm", "gm\u00adgm", False),  # soft hyphen removed: "gmgm" is another word
    ],
)
def test_blocklist_pattern(pattern, text, hit):
    assert (_find([pattern], text) == pattern.casefold()) is hit


def test_blocklist_names_the_pattern_that_matched_and_gives_an_excerpt():
    words = ["alpha", "beta*"]
    blocklist = Blocklist.compile(words)

    assert blocklist.find("nothing here") is None
    pattern, excerpt = blocklist.find("x " * 100 + "betamax" + " y" * 100)
    assert pattern == "beta*"
    assert "betamax" in excerpt and excerpt.startswith("…") and excerpt.endswith("…")
    assert len(excerpt) <= 122


def test_flood_counter_one_strike_per_burst_then_fresh_after_the_window():
    tracker = FloodTracker()
    key = ("s", -1, 7)
    hits = [tracker.hit(key, limit=3, window=10, now=t) for t in (0, 1, 2, 3, 4, 5)]
    assert hits == ["ok", "ok", "ok", "flood", "repeat", "repeat"]
    # Another user is counted apart.
    assert tracker.hit(("s", -1, 8), limit=3, window=10, now=5) == "ok"
    # Quiet for longer than the window: counting starts over.
    assert [tracker.hit(key, limit=3, window=10, now=t) for t in (30, 31, 32, 33)] == [
        "ok",
        "ok",
        "ok",
        "flood",
    ]


def test_flood_counter_forgets_idle_users():
    tracker = FloodTracker(sweep_every=100)
    for user in range(99):
        tracker.hit(("s", -1, user), limit=3, window=10, now=0)
    tracker.hit(("s", -1, 500), limit=3, window=10, now=100)  # the 100th call sweeps

    assert set(tracker._times) == {("s", -1, 500)}


def test_checks_run_in_order_and_only_when_enabled():
    document = rules_validate(
        {
            "enabled": True,
            "flood": {"messages": 2, "seconds": 60},
            "blocklist": {"words": ["spam"]},
        }
    )
    rules = CompiledRules.build(document)
    tracker = FloodTracker()
    key = ("s", -1, 1)

    def check(facts: MessageFacts, now: float):
        return rules.check(facts, flood_key=key, now=now, tracker=tracker)

    assert check(MessageFacts(text="hi"), 0) is None
    assert check(MessageFacts(text="spam"), 1).rule == "blocklist"
    assert check(MessageFacts(text="spam"), 2).rule == "flood"  # flood is checked first
    link = check(MessageFacts(text="x", links=("https://a.example",)), 100)
    assert (link.rule, link.needs_new_member, link.excerpt) == ("link", True, "https://a.example")
    forward = check(MessageFacts(text="x", forwarded_from="forwarded from X"), 200)
    assert forward.rule == "forward"

    off = CompiledRules.build({**document, "enabled": False})
    assert off.check(MessageFacts(text="spam"), flood_key=key, tracker=tracker) is None


def test_stored_documents_from_older_versions_get_new_defaults():
    stored = {"flood": {"enabled": False, "messages": 5, "seconds": 5, "action": "ban"}}

    effective = rules_effective(stored, enabled=True)

    assert effective["flood"]["messages"] == 5 and effective["flood"]["mute_seconds"] == 600
    assert effective["captcha"] == DEFAULT_RULES["captcha"]
    assert effective["enabled"] is True


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"blocklist": {"words": "scam"}},
        {"blocklist": {"words": [3]}},
        {"blocklist": {"words": ["w"] * 501}},
        {"escalation": {"ladder": [{"action": "warn", "mute_seconds": 60}]}},
        {"escalation": {"window_hours": 0}},
        {"flood": {"messages": True}},
        {"new_members": {"hours": 721}},
        {"captcha": {"enabled": 1}},
    ],
)
def test_invalid_documents(document):
    with pytest.raises(ServiceError) as raised:
        rules_validate(document)
    assert raised.value.code == "invalid_rules" and raised.value.status == 400
