"""Writes of the notification tables, one module per sub-domain:

- ``outbox``: queue a message (``notify``, ``notify_users``, ``outbox_enqueue``);
- ``delivery``: the dispatcher's protocol (claim → mark sending → record) and housekeeping;
- ``subscriptions``: which event types a chat receives;
- ``recipients``: who the tenant's bot can reach in private;
- ``broadcasts``: one message to many members, started by admins;
- ``notification_settings``: a community's settings;
- ``checks``: input checks the writers share.

Other apps import from here (``notifications.services.notify``); reads are in
``notifications.selectors``.
"""

from notifications.services.broadcasts import (
    Started,
    broadcast_cancel,
    broadcast_create,
    broadcast_expand,
    broadcast_finish,
    broadcast_start,
)
from notifications.services.checks import MAX_KEY, MAX_TEXT
from notifications.services.delivery import (
    Claimed,
    outbox_claim,
    outbox_mark_sending,
    outbox_purge,
    outbox_reap,
    outbox_record_blocked,
    outbox_record_final,
    outbox_record_migrated,
    outbox_record_retry,
    outbox_record_sent,
    outbox_release,
    outbox_unmark,
)
from notifications.services.notification_settings import notification_settings_update
from notifications.services.outbox import UserMessage, notify, notify_users, outbox_enqueue
from notifications.services.recipients import (
    SEEN_IN_GROUPS,
    recipient_register,
    recipients_seen_in_groups,
)
from notifications.services.subscriptions import subscription_toggle, subscriptions_update

__all__ = [
    "MAX_KEY",
    "MAX_TEXT",
    "SEEN_IN_GROUPS",
    "Claimed",
    "Started",
    "UserMessage",
    "broadcast_cancel",
    "broadcast_create",
    "broadcast_expand",
    "broadcast_finish",
    "broadcast_start",
    "notification_settings_update",
    "notify",
    "notify_users",
    "outbox_claim",
    "outbox_enqueue",
    "outbox_mark_sending",
    "outbox_purge",
    "outbox_reap",
    "outbox_record_blocked",
    "outbox_record_final",
    "outbox_record_migrated",
    "outbox_record_retry",
    "outbox_record_sent",
    "outbox_release",
    "outbox_unmark",
    "recipient_register",
    "recipients_seen_in_groups",
    "subscription_toggle",
    "subscriptions_update",
]
