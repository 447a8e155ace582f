"""/settings and its switches, end to end: a python-telegram-bot Application pointed at
the sandbox Telegram processes the updates the sandbox queued for people's actions; the
tests check what the bot answered and what was stored."""

from __future__ import annotations

import pytest

from history.models import Entry
from notifications import services as ntf_services
from notifications import telegram as ntf_telegram
from notifications.models import Recipient, Subscription
from notifications.telegram import handlers
from tests.botruntime.helpers import flush_all_strictly
from tests.helpers import application_process, on_sandbox, sandbox_application, tenant_bot_token
from tests.notifications.helpers import group_with_bot

pytestmark = pytest.mark.django_db


def _process(tg, tenant, *updates: dict) -> None:
    application_process(sandbox_application(tg, tenant_bot_token(tenant), handlers()), *updates)
    flush_all_strictly()  # what the bot runtime writes behind the handlers


def _buttons(message: dict) -> dict[str, str]:
    """callback data -> button text of the message's inline keyboard."""
    rows = message["reply_markup"]["inline_keyboard"]
    return {b["callback_data"]: b["text"] for row in rows for b in row}


def test_settings_in_private_shows_the_users_switches_and_a_press_flips_one(
    tenant, sandbox, person
):
    tg = sandbox()
    bot = on_sandbox(tg, tenant)
    tg.add_user(7301, "Alice", username="alice")

    _process(tg, tenant, tg.send_message(bot, 7301, 7301, "/settings"))

    [panel] = tg.sent(bot, 7301)
    assert panel["text"].startswith(f"Notifications from {tenant.name}")
    buttons = _buttons(panel)
    assert buttons["ntf:deposit.received"] == "✅ Deposits"
    assert "ntf:raid.created" not in buttons  # a group's notification
    recipient = Recipient.objects.get(tenant=tenant, chat_id=7301)
    assert (recipient.status, recipient.bot_id) == ("active", bot)

    press = tg.press_button(bot, 7301, 7301, panel["message_id"], "ntf:deposit.received")
    _process(tg, tenant, press)

    assert Subscription.objects.get(tenant=tenant, chat_id=7301).enabled is False
    [redrawn] = tg.sent(bot, 7301)  # the same message, its keyboard edited
    assert _buttons(redrawn)["ntf:deposit.received"] == "🔕 Deposits"
    assert tg.callback_answer(press["callback_query"]["id"])["text"] == "Deposits: off"
    entry = Entry.objects.get(tenant=tenant, action="notifications.subscriptions_changed")
    assert (entry.actor_id, entry.data) == ("7301", {"changes": {"deposit.received": False}})


def test_settings_in_a_group_is_for_admins_with_manage_settings(
    tenant, sandbox, person, group, user_with_role
):
    tg = sandbox()
    bot = on_sandbox(tg, tenant)
    chat = group(tenant)
    admin = user_with_role(tenant, "admin", user_id=7311, username="admin")
    member = person(None, "member", user_id=7312)
    group_with_bot(tg, tenant, chat, admin, member)

    _process(tg, tenant, tg.send_message(bot, chat, member.telegram_id, "/settings"))
    [refusal] = tg.sent(bot, chat)
    assert "manage_settings" in refusal["text"] and "reply_markup" not in refusal

    _process(tg, tenant, tg.send_message(bot, chat, admin.telegram_id, "/settings"))
    panel = tg.sent(bot, chat)[-1]
    buttons = _buttons(panel)
    assert buttons["ntf:mention.found"] == "🔕 Mentions on X"
    assert "ntf:deposit.received" not in buttons

    # Anyone in the group can press the button: only an admin's press counts.
    press = tg.press_button(bot, chat, member.telegram_id, panel["message_id"], "ntf:raid.created")
    _process(tg, tenant, press)
    answer = tg.callback_answer(press["callback_query"]["id"])
    assert answer["show_alert"] is True and "manage_settings" in answer["text"]
    assert not Subscription.objects.filter(tenant=tenant).exists()

    press = tg.press_button(bot, chat, admin.telegram_id, panel["message_id"], "ntf:mention.found")
    _process(tg, tenant, press)
    assert Subscription.objects.get(tenant=tenant, chat_id=chat, event="mention.found").enabled
    assert _buttons(tg.sent(bot, chat)[-1])["ntf:mention.found"] == "✅ Mentions on X"


def test_settings_in_a_group_of_another_community_changes_nothing(
    make_tenant, sandbox, group, user_with_role
):
    mine, theirs = make_tenant(), make_tenant()
    tg = sandbox()
    bot = on_sandbox(tg, mine)
    chat = group(theirs)  # bound to the other community; my bot is in it anyway
    admin = user_with_role(mine, "owner", user_id=7321, username="owner")
    group_with_bot(tg, mine, chat, admin)

    _process(tg, mine, tg.send_message(bot, chat, admin.telegram_id, "/settings"))

    [answer] = tg.sent(bot, chat)
    assert answer["text"] == f"This group is not connected to {mine.name}."
    assert not Subscription.objects.exists()


def test_a_recipient_writing_in_a_bound_group_is_noted_as_its_member(
    tenant, sandbox, person, group
):
    tg = sandbox()
    bot = on_sandbox(tg, tenant)
    chat = group(tenant)
    fan = person(tenant, "fan")  # reachable by the bot
    stranger = person(None, "stranger")  # never used the bot
    group_with_bot(tg, tenant, chat, fan, stranger)
    ntf_telegram.SEEN.clear()
    # The sandbox's bots run in privacy mode: they see commands and replies in groups.
    updates = [
        tg.send_message(bot, chat, fan.telegram_id, "/leaderboard"),
        tg.send_message(bot, chat, stranger.telegram_id, "/leaderboard"),
        tg.send_message(bot, chat, fan.telegram_id, "/leaderboard"),
    ]

    _process(tg, tenant, *updates)

    assert Recipient.objects.get(tenant=tenant, user=fan).groups == [chat]
    assert not Recipient.objects.filter(tenant=tenant, user=stranger).exists()


def test_a_member_is_noted_once_an_hour_per_bot_and_group(
    tenant, sandbox, person, group, monkeypatch
):
    tg = sandbox()
    bot = on_sandbox(tg, tenant)
    chat = group(tenant)
    fan = person(tenant, "fan")
    group_with_bot(tg, tenant, chat, fan)
    now = [1000.0]
    monkeypatch.setattr(ntf_telegram.SEEN, "clock", lambda: now[0])
    ntf_telegram.SEEN.clear()
    noted = []
    add = ntf_services.SEEN_IN_GROUPS.add
    monkeypatch.setattr(
        ntf_services.SEEN_IN_GROUPS, "add", lambda key, value: (noted.append(key), add(key, value))
    )

    def write() -> None:
        _process(tg, tenant, tg.send_message(bot, chat, fan.telegram_id, "/leaderboard"))

    write()
    now[0] += ntf_telegram.SEEN_TTL - 0.01
    write()
    assert noted == [(tenant.pk, chat, fan.telegram_id)]
    now[0] += 0.01
    write()
    assert noted == [(tenant.pk, chat, fan.telegram_id)] * 2
