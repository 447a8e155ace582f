"""A group's switch for a part of the feed follows what the group has configured: its
first forwarding (or mention rule) turns the feature on and subscribes the group to the
event it produces; removing its last turns the feature off, so the group's settings
never say "on" for a feed that has nothing to read. The subscription is left as it is on
removal: it is the group's choice of what it receives, not a sign of configuration.
Each change is audited by the service that makes it (community's settings,
notifications' subscriptions). Call these inside the caller's transaction, with the
group row locked."""

from __future__ import annotations

from typing import Any

from community.models import Group
from community.services import group_settings_update
from history.services import Actor
from notifications.services import subscriptions_update
from tenancy.models import Tenant


def feed_switch_on(
    *, tenant: Tenant, group: Group, feature: str, event: str, actor: Actor, request: Any
) -> None:
    """``feature`` on for ``group`` (when it was off) and ``event`` subscribed (again,
    when the group had opted out: configuring the feed is asking for it)."""
    if not group.effective_features[feature]:
        group_settings_update(
            tenant=tenant,
            chat_id=group.chat_id,
            features={feature: True},
            actor=actor,
            request=request,
        )
    subscriptions_update(
        tenant=tenant, chat_id=group.chat_id, changes={event: True}, actor=actor, request=request
    )


def feed_switch_off_when_empty(
    *, tenant: Tenant, group: Group, feature: str, remaining: bool, actor: Actor, request: Any
) -> None:
    """``feature`` off for ``group`` when nothing ``remaining`` feeds it."""
    if remaining or not group.effective_features[feature]:
        return
    group_settings_update(
        tenant=tenant,
        chat_id=group.chat_id,
        features={feature: False},
        actor=actor,
        request=request,
    )
