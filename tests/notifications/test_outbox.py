"""notify / outbox_enqueue: rows in the caller's transaction, subscription checks,
idempotency keys."""

from __future__ import annotations

import pytest
from django.db import transaction

from config.errors import ServiceError
from history.services import Actor
from notifications.models import OutboxMessage, Recipient
from notifications.services import notify, recipient_register, subscriptions_update
from tests.helpers import bot_id_of

pytestmark = pytest.mark.django_db


class Boom(Exception):
    pass


def test_a_notification_rolls_back_with_the_business_operation(tenant, person):
    user = person(tenant)
    with pytest.raises(Boom), transaction.atomic():
        notify(
            tenant=tenant,
            event="deposit.received",
            text="You received 5 TON",
            user=user,
            idempotency_key="deposit:1",
        )
        assert OutboxMessage.objects.filter(tenant=tenant).count() == 1
        raise Boom
    assert not OutboxMessage.objects.filter(tenant=tenant).exists()


def test_a_committed_notification_is_pending_for_the_tenants_bot(tenant, person):
    user = person(tenant)
    with transaction.atomic():
        message = notify(
            tenant=tenant,
            event="deposit.received",
            text="You received 5 TON",
            user=user,
            idempotency_key="deposit:2",
            options={"parse_mode": "HTML", "disable_notification": True},
        )
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert (stored.status, stored.chat_id, stored.bot_id) == (
        "pending",
        user.telegram_id,
        bot_id_of(tenant),
    )
    assert stored.attempts == 0 and stored.sent_at is None
    assert stored.options == {"parse_mode": "HTML", "disable_notification": True}


def test_a_notification_goes_through_the_bot_the_user_last_used(tenant, person):
    user = person(tenant)
    recipient_register(tenant=tenant, user=user, bot_id=4_200_000_001)
    message = notify(
        tenant=tenant, event="deposit.received", text="5 TON", user=user, idempotency_key="b"
    )
    assert message.bot_id == 4_200_000_001


def test_a_user_the_bot_may_not_write_to_gets_no_row_whatever_they_chose(tenant, person):
    user = person(tenant)  # every notification type still on, as after "never started"
    Recipient.objects.filter(tenant=tenant, user=user).update(status=Recipient.Status.BLOCKED)
    kept = notify(
        tenant=tenant, event="deposit.received", text="5 TON", user=user, idempotency_key="x"
    )
    assert kept is None and not OutboxMessage.objects.filter(tenant=tenant).exists()


def test_a_retried_operation_does_not_enqueue_twice(tenant, person):
    user = person(tenant)
    first = notify(
        tenant=tenant, event="deposit.received", text="a", user=user, idempotency_key="dep:3"
    )
    again = notify(
        tenant=tenant, event="deposit.received", text="a", user=user, idempotency_key="dep:3"
    )
    assert first.pk == again.pk
    assert OutboxMessage.objects.filter(tenant=tenant).count() == 1


def test_the_same_key_in_another_tenant_is_another_message(make_tenant, person):
    first, second = make_tenant(), make_tenant()
    user = person(first)
    for tenant in (first, second):
        notify(tenant=tenant, event="deposit.received", text="a", user=user, idempotency_key="k")
    assert OutboxMessage.objects.filter(idempotency_key="k").count() == 2


def test_an_opted_out_user_gets_no_row(tenant, person):
    user = person(tenant)
    subscriptions_update(
        tenant=tenant,
        chat_id=user.telegram_id,
        changes={"deposit.received": False},
        actor=Actor.user(user),
    )
    assert (
        notify(tenant=tenant, event="deposit.received", text="a", user=user, idempotency_key="x")
        is None
    )
    # Another event still goes out.
    assert notify(tenant=tenant, event="announcement", text="a", user=user, idempotency_key="y")
    assert OutboxMessage.objects.filter(tenant=tenant).count() == 1


def test_an_alert_follows_its_familys_subscription(tenant, person):
    user = person(tenant)
    message = notify(
        tenant=tenant, event="alert.low_funds", text="low", user=user, idempotency_key="a1"
    )
    assert message.event == "alert.low_funds"
    subscriptions_update(
        tenant=tenant, chat_id=user.telegram_id, changes={"alert.*": False}, actor=Actor.user(user)
    )
    assert (
        notify(tenant=tenant, event="alert.low_funds", text="low", user=user, idempotency_key="a2")
        is None
    )


def test_group_notifications_go_to_bound_groups_that_want_them(tenant, group):
    chat_id = group(tenant)
    message = notify(
        tenant=tenant, event="raid.created", text="Raid!", chat_id=chat_id, idempotency_key="r1"
    )
    assert (message.chat_id, message.user_id, message.bot_id) == (chat_id, None, bot_id_of(tenant))
    # Off by default: nothing is queued until the group opts in.
    assert (
        notify(
            tenant=tenant, event="mention.found", text="m", chat_id=chat_id, idempotency_key="m1"
        )
        is None
    )


def test_a_group_of_another_tenant_is_refused(make_tenant, group):
    mine, theirs = make_tenant(), make_tenant()
    their_chat = group(theirs)
    with pytest.raises(ServiceError) as caught:
        notify(tenant=mine, event="raid.created", text="x", chat_id=their_chat, idempotency_key="z")
    assert caught.value.code == "group_not_found"
    assert not OutboxMessage.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "raid.created", "user": True}, "is for group chats"),
        ({"event": "deposit.received", "chat_id": True}, "is for user chats"),
        ({"event": "no.such", "user": True}, "unknown notification event"),
        ({"event": "deposit.received"}, "exactly one of"),
        ({"event": "deposit.received", "user": True, "chat_id": True}, "exactly one of"),
        ({"event": "deposit.received", "user": True, "options": {"colour": 1}}, "unknown"),
    ],
)
def test_programming_errors_are_loud(tenant, person, group, kwargs, message):
    if kwargs.pop("user", None):
        kwargs["user"] = person(tenant)
    if kwargs.pop("chat_id", None):
        kwargs["chat_id"] = group(tenant)
    with pytest.raises(ValueError, match=message):
        notify(tenant=tenant, text="x", idempotency_key="p", **kwargs)


def test_text_must_fit_a_telegram_message(tenant, person):
    user = person(tenant)
    with pytest.raises(ServiceError) as caught:
        notify(tenant=tenant, event="announcement", text="x" * 4097, user=user, idempotency_key="t")
    assert caught.value.code == "text_too_long"


def test_notify_users_queues_each_text_with_notifys_rules_in_one_batch(tenant, person):
    from notifications.services import UserMessage, notify_users

    fan, blocked, opted_out, via_other_bot = (person(tenant, f"u{n}") for n in range(4))
    unknown = 6_999_999  # never wrote to the bot: the tenant's bot, no user row
    Recipient.objects.filter(tenant=tenant, user=blocked).update(status=Recipient.Status.BLOCKED)
    subscriptions_update(
        tenant=tenant,
        chat_id=opted_out.telegram_id,
        changes={"deposit.received": False},
        actor=Actor.user(opted_out),
    )
    recipient_register(tenant=tenant, user=via_other_bot, bot_id=4_200_000_002)
    ids = [fan.telegram_id, blocked.telegram_id, opted_out.telegram_id]
    ids += [via_other_bot.telegram_id, unknown]
    messages = [UserMessage(telegram_id=i, text=f"for {i}", idempotency_key=f"r:{i}") for i in ids]

    assert notify_users(tenant=tenant, event="deposit.received", messages=messages) == 3
    assert notify_users(tenant=tenant, event="deposit.received", messages=messages) == 3
    rows = {m.chat_id: m for m in OutboxMessage.objects.filter(tenant=tenant)}
    assert set(rows) == {fan.telegram_id, via_other_bot.telegram_id, unknown}  # once each
    assert rows[fan.telegram_id].text == f"for {fan.telegram_id}"
    assert rows[fan.telegram_id].user_id == fan.pk and rows[unknown].user_id is None
    assert rows[via_other_bot.telegram_id].bot_id == 4_200_000_002
    assert rows[unknown].bot_id == bot_id_of(tenant)
    with pytest.raises(ValueError, match="for group chats"):
        notify_users(tenant=tenant, event="raid.result", messages=messages)
