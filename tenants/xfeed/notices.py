"""The feed's notification event types (group chats): ``xfeed.post``, a followed
account's post forwarded; ``xfeed.mention``, a post matching a mention rule relayed. Both
on by default: a group receives them only where an admin configured a forwarding or a
rule, and may still opt out in /settings. Registered by ``XfeedConfig.ready``."""

from __future__ import annotations

from notifications.events import Audience, EventType, event_register

EVENT_POST = "xfeed.post"
EVENT_MENTION = "xfeed.mention"

EVENTS = [
    event_register(
        EventType(
            EVENT_POST,
            "X posts",
            "Posts of the X accounts this group follows",
            Audience.GROUP,
            True,
        )
    ),
    event_register(
        EventType(
            EVENT_MENTION,
            "X mentions",
            "Posts on X that match this group's mention rules",
            Audience.GROUP,
            True,
        )
    ),
]
