"""Subscriptions: defaults, opt-out and opt-in stored as deviations only, audited."""

from __future__ import annotations

import pytest

from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from notifications.events import event_get
from notifications.models import Subscription
from notifications.selectors import is_subscribed, subscription_states
from notifications.services import subscription_toggle, subscriptions_update

pytestmark = pytest.mark.django_db


def _states(tenant, chat_id) -> dict[str, bool]:
    return {s.event: s.enabled for s in subscription_states(tenant=tenant, chat_id=chat_id)}


def test_a_user_starts_with_the_defaults_and_nothing_stored(tenant, person):
    user = person(tenant)
    states = _states(tenant, user.telegram_id)
    assert states["deposit.received"] is True
    assert "raid.created" not in states  # a group's event
    assert not Subscription.objects.filter(tenant=tenant).exists()


def test_opting_out_stores_a_deviation_and_back_to_default_removes_it(tenant, person):
    user = person(tenant)
    actor = Actor.user(user)
    subscriptions_update(
        tenant=tenant, chat_id=user.telegram_id, changes={"deposit.received": False}, actor=actor
    )
    assert _states(tenant, user.telegram_id)["deposit.received"] is False
    assert list(Subscription.objects.filter(tenant=tenant).values_list("event", "enabled")) == [
        ("deposit.received", False)
    ]
    subscriptions_update(
        tenant=tenant, chat_id=user.telegram_id, changes={"deposit.received": True}, actor=actor
    )
    assert _states(tenant, user.telegram_id)["deposit.received"] is True
    assert not Subscription.objects.filter(tenant=tenant).exists()


def test_a_group_opts_into_an_event_that_is_off_by_default(tenant, group):
    chat_id = group(tenant)
    mention = event_get("mention.found")
    assert not is_subscribed(tenant=tenant, chat_id=chat_id, event=mention)
    subscriptions_update(
        tenant=tenant, chat_id=chat_id, changes={"mention.found": True}, actor=Actor.user(1)
    )
    assert is_subscribed(tenant=tenant, chat_id=chat_id, event=mention)
    assert Subscription.objects.get(tenant=tenant, chat_id=chat_id).enabled is True


def test_subscriptions_are_per_tenant(make_tenant, person):
    first, second = make_tenant(), make_tenant()
    user = person(first)
    subscriptions_update(
        tenant=first,
        chat_id=user.telegram_id,
        changes={"announcement": False},
        actor=Actor.user(user),
    )
    assert _states(first, user.telegram_id)["announcement"] is False
    assert _states(second, user.telegram_id)["announcement"] is True


def test_changes_are_audited_once_and_no_op_changes_not_at_all(tenant, person):
    user = person(tenant)
    changes = {"deposit.received": False, "announcement": True}  # the second is the default
    subscriptions_update(
        tenant=tenant, chat_id=user.telegram_id, changes=changes, actor=Actor.user(user)
    )
    subscriptions_update(
        tenant=tenant, chat_id=user.telegram_id, changes=changes, actor=Actor.user(user)
    )
    entries = Entry.objects.filter(tenant=tenant, action="notifications.subscriptions_changed")
    [entry] = entries
    assert entry.data == {"changes": {"deposit.received": False}}
    assert (entry.target_type, entry.target_id) == ("user", str(user.telegram_id))


@pytest.mark.parametrize(
    ("chat_id", "event"),
    [
        (5_000_001, "raid.created"),  # a group's event for a user
        (-1_005_000_001, "deposit.received"),  # a user's event for a group
        (5_000_001, "no.such"),
        (5_000_001, "alert.low_funds"),  # a family is switched as alert.*
    ],
)
def test_events_of_the_other_audience_or_unknown_are_refused(tenant, chat_id, event):
    with pytest.raises(ServiceError) as caught:
        subscriptions_update(
            tenant=tenant, chat_id=chat_id, changes={event: False}, actor=Actor.user(1)
        )
    assert caught.value.code == "unknown_event"
    assert not Subscription.objects.filter(tenant=tenant).exists()


def test_toggle_flips_each_time(tenant, group):
    chat_id = group(tenant)
    assert (
        subscription_toggle(
            tenant=tenant, chat_id=chat_id, event="raid.created", actor=Actor.user(1)
        )
        is False
    )
    assert (
        subscription_toggle(
            tenant=tenant, chat_id=chat_id, event="raid.created", actor=Actor.user(1)
        )
        is True
    )
    assert not Subscription.objects.filter(tenant=tenant, chat_id=chat_id).exists()
    assert (
        Entry.objects.filter(tenant=tenant, action="notifications.subscriptions_changed").count()
        == 2
    )
