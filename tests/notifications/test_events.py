"""The registry of event types: audiences, defaults, families."""

from __future__ import annotations

import pytest

from notifications.events import Audience, EventType, event_get, event_list, event_register

BRIEF_EVENTS = {
    "raid.created",
    "raid.ending",
    "raid.result",
    "deposit.received",
    "tweet.forwarded",
    "mention.found",
    "bot.status",
    "alert.*",
}


def test_every_event_the_platform_sends_is_registered_with_a_description():
    names = {event.name for event in event_list()}
    assert names >= BRIEF_EVENTS
    for event in event_list():
        assert event.description and event.label
        assert event.audience in (Audience.USER, Audience.GROUP)
        assert isinstance(event.default, bool)


def test_audiences_and_defaults():
    assert event_get("raid.created").audience == Audience.GROUP
    assert event_get("raid.created").default is True
    assert event_get("deposit.received").audience == Audience.USER
    # Mentions can be a flood: a group opts in.
    assert event_get("mention.found").default is False
    users = {e.name for e in event_list(audience=Audience.USER)}
    groups = {e.name for e in event_list(audience="group")}
    assert "deposit.received" in users and "deposit.received" not in groups
    assert "raid.created" in groups and "raid.created" not in users


def test_a_family_covers_its_members_but_nothing_else():
    assert event_get("alert.low_funds").name == "alert.*"
    assert event_get("alert.payout.failed").name == "alert.*"
    assert event_get("alert") is None
    assert event_get("raid.unknown") is None
    assert event_get("nothing.here") is None


def test_register_refuses_bad_names_and_conflicting_twins():
    with pytest.raises(ValueError, match="must look like"):
        event_register(EventType("Bad Name", "x", "x", Audience.USER, True))
    with pytest.raises(ValueError, match="must look like"):
        event_register(EventType("a." + "b" * 60, "x", "x", Audience.USER, True))
    twin = EventType("raid.created", "x", "another meaning", Audience.USER, False)
    with pytest.raises(ValueError, match="registered twice"):
        event_register(twin)
    # Registering the very same type again is harmless (modules may be imported twice).
    assert event_register(event_get("raid.created")) == event_get("raid.created")
