"""The notification event types the feed sends to groups, as the platform registers them
(``notifications.events``): ``tweet.forwarded``, a followed account's post forwarded (on
by default: a group gets it only where an admin set a forwarding); ``mention.found``, a
post matching a mention rule (off until a group opts in; setting a rule opts it in)."""

from __future__ import annotations

EVENT_POST = "tweet.forwarded"
EVENT_MENTION = "mention.found"
