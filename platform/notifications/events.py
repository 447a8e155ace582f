"""The registry of notification event types.

Every message the outbox sends belongs to an event type. An event type has an audience
(``user``: a person's private chat with the bot; ``group``: a bound group chat) and a
default: subscriptions store only where a user or a group deviates from it. A name
ending in ``.*`` is a family (``alert.*``): ``alert.low_funds`` is sent and subscribed
to as ``alert.*``. Apps add their own types with ``event_register``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Audience(StrEnum):
    USER = "user"
    GROUP = "group"


EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?$")
MAX_EVENT_NAME = 40  # callback_data of the /settings buttons is at most 64 bytes


@dataclass(frozen=True)
class EventType:
    name: str
    label: str  # the button text in /settings
    description: str
    audience: Audience
    default: bool


_REGISTRY: dict[str, EventType] = {}


def event_register(event: EventType) -> EventType:
    if not EVENT_NAME.match(event.name) or len(event.name) > MAX_EVENT_NAME:
        raise ValueError(f"event name {event.name!r} must look like 'noun.verb' or 'noun.*'")
    existing = _REGISTRY.get(event.name)
    if existing is not None and existing != event:
        raise ValueError(f"event type {event.name!r} is registered twice")
    _REGISTRY[event.name] = event
    return event


def event_get(name: str) -> EventType | None:
    """The event type of ``name``: an exact registration, else its ``prefix.*`` family."""
    event = _REGISTRY.get(name)
    if event is not None:
        return event
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        family = _REGISTRY.get(".".join(parts[:cut]) + ".*")
        if family is not None:
            return family
    return None


def event_list(*, audience: Audience | str | None = None) -> list[EventType]:
    events = sorted(_REGISTRY.values(), key=lambda e: e.name)
    return [e for e in events if audience is None or e.audience == audience]


for _event in (
    EventType(
        "announcement",
        "Announcements",
        "Announcements the community broadcasts to its members",
        Audience.USER,
        True,
    ),
    EventType(
        "raid.created",
        "New raids",
        "A raid on an X post started in this group",
        Audience.GROUP,
        True,
    ),
    EventType(
        "raid.ending",
        "Raids ending soon",
        "A raid of this group is about to end",
        Audience.GROUP,
        True,
    ),
    EventType(
        "raid.result",
        "Raid results",
        "The results and rewards of a finished raid",
        Audience.GROUP,
        True,
    ),
    EventType(
        "raid.progress",
        "Raid progress",
        "Your tasks in a raid you joined, as X confirms them",
        Audience.USER,
        True,
    ),
    EventType(
        "raid.reward",
        "Your raid rewards",
        "Your result and reward when a raid you joined is settled",
        Audience.USER,
        True,
    ),
    EventType(
        "giveaway.created",
        "New giveaways",
        "A giveaway opened in this group (with its commitment)",
        Audience.GROUP,
        True,
    ),
    EventType(
        "giveaway.drawn",
        "Giveaway draws",
        "A giveaway of this group was drawn (winners and the revealed secret) or cancelled",
        Audience.GROUP,
        True,
    ),
    EventType(
        "giveaway.won",
        "Giveaway wins",
        "You won a giveaway",
        Audience.USER,
        True,
    ),
    EventType(
        "contest.created",
        "New EXP contests",
        "An EXP contest with prizes opened in this group",
        Audience.GROUP,
        True,
    ),
    EventType(
        "contest.settled",
        "EXP contest results",
        "The final standings and prizes of an EXP contest",
        Audience.GROUP,
        True,
    ),
    EventType(
        "contest.won",
        "EXP contest prizes",
        "You won a prize in an EXP contest",
        Audience.USER,
        True,
    ),
    EventType(
        "deposit.received",
        "Deposits",
        "A deposit reached your wallet",
        Audience.USER,
        True,
    ),
    EventType(
        "tweet.forwarded",
        "Posts from X",
        "The project's new posts on X, forwarded to this group",
        Audience.GROUP,
        True,
    ),
    EventType(
        "mention.found",
        "Mentions on X",
        "Live mentions of the project on X",
        Audience.GROUP,
        False,
    ),
    EventType(
        "bot.status",
        "Bot status",
        "The community's bot went offline or came back (for its admins)",
        Audience.USER,
        True,
    ),
    EventType(
        "alert.*",
        "Alerts",
        "Operational alerts for the community's admins (low funds, failures, ...)",
        Audience.USER,
        True,
    ),
):
    event_register(_event)
