"""Moderation of group messages end to end: rules set through the service, messages
written by people in the sandbox Telegram and processed by the community handlers;
what the bot did is checked in the sandbox, the action log and the audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from community.models import ActivityDay, GroupAdmin, ModerationAction
from community.services import moderation_log_prune, moderation_rules_update
from history.models import Entry
from history.services import Actor
from notifications.models import OutboxMessage


def _rules(scene, **rules) -> dict:
    return moderation_rules_update(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        rules={"enabled": True, **rules},
        actor=Actor.user(scene.owner["id"]),
    )


def _actions(scene) -> list[ModerationAction]:
    with tenant_context(scene.tenant):
        return list(ModerationAction.objects.order_by("id"))


def _message_id(update: dict) -> int:
    return update["message"]["message_id"]


def _notices(scene) -> list[str]:
    """What the bot queued to say in the group (the notifications outbox sends it)."""
    return list(
        OutboxMessage.objects.filter(chat_id=scene.chat_id, event="moderation.notice")
        .order_by("id")
        .values_list("text", flat=True)
    )


def _counted(scene, user) -> int:
    with tenant_context(scene.tenant):
        row = ActivityDay.objects.filter(user_id=user["id"]).first()
        return row.messages if row else 0


QUIET = {"flood": {"enabled": False}, "new_members": {"enabled": False}}


def test_flood_mutes_on_the_first_message_over_the_limit(scene):
    _rules(
        scene,
        flood={"messages": 3, "seconds": 60, "action": "mute", "mute_seconds": 600},
        new_members={"enabled": False},
    )
    spammer = scene.user("spammy")

    first = [scene.say(spammer, f"buy {n}") for n in range(3)]
    over = scene.say(spammer, "buy 4")

    assert all(scene.live(_message_id(u)) for u in first)
    assert not scene.live(_message_id(over))
    member = scene.member(spammer)
    assert member["status"] == "restricted" and member["can_send_messages"] is False
    until = member["until_date"] - over["message"]["date"]
    assert 590 <= until <= 610
    [action] = _actions(scene)
    assert (action.rule, action.action, action.strike) == ("flood", "mute", 0)
    assert action.detail == "more than 3 messages in 60 s" and action.excerpt == "buy 4"
    assert _counted(scene, spammer) == 3  # the deleted message earns nothing
    assert _notices(scene) == ["Spammy is muted for 10 min: flooding the chat."]
    entry = Entry.objects.get(tenant=scene.tenant, action="moderation.muted")
    assert entry.actor_type == "bot" and entry.actor_id == str(scene.bot_id)
    assert entry.data["rule"] == "flood" and entry.data["moderation_action_id"] == action.pk


def test_a_flood_burst_earns_one_strike_and_later_messages_are_only_deleted(scene):
    _rules(
        scene,
        flood={"messages": 2, "seconds": 60, "action": "escalate"},
        new_members={"enabled": False},
    )
    spammer = scene.user("burst")

    updates = [scene.say(spammer, f"msg {n}") for n in range(5)]

    assert [scene.live(_message_id(u)) for u in updates] == [True, True, False, False, False]
    assert [(a.action, a.strike) for a in _actions(scene)] == [
        ("warn", 1),
        ("delete", 0),
        ("delete", 0),
    ]


def test_blocklist_escalates_warn_warn_mute_ban_and_warnings_expire(scene):
    _rules(
        scene,
        blocklist={"words": ["scam*", "free * money"], "action": "escalate"},
        escalation={
            "ladder": [
                {"action": "warn"},
                {"action": "warn"},
                {"action": "mute", "mute_seconds": 3600},
                {"action": "ban"},
            ],
            "window_hours": 24,
        },
        **QUIET,
    )
    user = scene.user("mallory")

    first = scene.say(user, "Join my SCAMcoin presale")
    scene.say(user, "get free  easy money here")
    assert [(a.action, a.strike) for a in _actions(scene)] == [("warn", 1), ("warn", 2)]
    assert not scene.live(_message_id(first))
    assert _notices(scene) == [
        "Mallory, this is a warning: a blocked word. Next time: another warning.",
        "Mallory, this is a warning: a blocked word. Next time: a 1 h mute.",
    ]
    scene.say(user, "scam")
    assert scene.member(user)["status"] == "restricted"
    scene.tg.set_member(scene.chat_id, user["id"], "member")  # an admin lifts the mute
    scene.say(user, "scammers welcome")
    assert scene.member(user)["status"] == "kicked"

    actions = _actions(scene)
    assert [(a.action, a.strike) for a in actions] == [
        ("warn", 1),
        ("warn", 2),
        ("mute", 3),
        ("ban", 4),
    ]
    assert [a.pattern for a in actions] == ["scam*", "free * money", "scam*", "scam*"]
    assert actions[0].excerpt == "Join my SCAMcoin presale"
    assert actions[2].until is not None
    audited = Entry.objects.filter(tenant=scene.tenant, action__startswith="moderation.")
    assert sorted(audited.values_list("action", flat=True)) == sorted(
        [
            "moderation.rules_updated",
            "moderation.warned",
            "moderation.warned",
            "moderation.muted",
            "moderation.banned",
        ]
    )

    # Strikes older than the window no longer count: the next one is a warning again.
    other = scene.user("oscar")
    scene.say(other, "scam alert")
    with tenant_context(scene.tenant):
        ModerationAction.objects.filter(user_id=other["id"]).update(
            created_at=timezone.now() - timedelta(hours=25)
        )
    scene.say(other, "scam again")
    assert [(a.action, a.strike) for a in _actions(scene)[-2:]] == [("warn", 1), ("warn", 1)]


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("SCAM", True),
        ("this is a scam.", True),
        ("scamming", True),  # scam* covers word endings
        ("antiscam", False),  # whole words only
        ("s\u200bcam", True),  # invisible characters do not hide a word
        ("hello", False),
    ],
)
def test_blocklist_matches_whole_words_case_insensitively(scene, text, blocked):
    _rules(scene, blocklist={"words": ["scam*"], "action": "delete"}, **QUIET)
    user = scene.user("writer")

    update = scene.say(user, text)

    assert scene.live(_message_id(update)) is not blocked


def test_links_and_forwards_from_new_members_are_deleted_old_members_pass(scene):
    _rules(scene, flood={"enabled": False}, new_members={"hours": 24, "action": "delete"})
    scene.update_group(features={"moderation": True, "welcome": False})
    newcomer = scene.user("newbie", join=True)
    veteran = scene.user("veteran")  # was in the group before the bot watched

    link = scene.say(
        newcomer,
        "see https://spam.example/x now",
        entities=[{"type": "url", "offset": 4, "length": 22}],
    )
    hidden = scene.say(
        newcomer,
        "click here",
        entities=[{"type": "text_link", "offset": 0, "length": 5, "url": "https://t.me/+abc"}],
    )
    forward = scene.say(
        newcomer,
        "look at this",
        forward_origin={
            "type": "channel",
            "date": 1,
            "chat": {"id": -1009, "type": "channel", "title": "Pump News", "username": "pump"},
            "message_id": 5,
        },
    )
    plain = scene.say(newcomer, "hello all")
    old_link = scene.say(
        veteran,
        "docs at https://docs.example",
        entities=[{"type": "url", "offset": 8, "length": 20}],
    )

    assert not scene.live(_message_id(link))
    assert not scene.live(_message_id(hidden))
    assert not scene.live(_message_id(forward))
    assert scene.live(_message_id(plain)) and scene.live(_message_id(old_link))
    actions = _actions(scene)
    assert [(a.rule, a.action, a.excerpt) for a in actions] == [
        ("link", "delete", "https://spam.example/x"),
        ("link", "delete", "https://t.me/+abc"),
        ("forward", "delete", "forwarded from Pump News (@pump)"),
    ]
    assert actions[0].detail == "link from a member who joined less than 24 h ago"
    assert _notices(scene) == [] and scene.bot_messages() == []  # a plain delete is silent
    assert _counted(scene, veteran) == 1 and _counted(scene, newcomer) == 1

    # After H hours the member is not new any more.
    with tenant_context(scene.tenant):
        from community.models import Member

        Member.objects.filter(user_id=newcomer["id"]).update(
            joined_at=timezone.now() - timedelta(hours=25)
        )
    later = scene.say(
        newcomer, "https://ok.example", entities=[{"type": "url", "offset": 0, "length": 18}]
    )
    assert scene.live(_message_id(later))


def test_admins_and_the_bot_are_exempt(scene):
    _rules(
        scene,
        blocklist={"words": ["scam"], "action": "ban"},
        flood={"messages": 2, "seconds": 60, "action": "ban"},
    )
    admin = scene.user("adele")
    with tenant_context(scene.tenant):
        group = scene.group()
        GroupAdmin.objects.create(group=group, telegram_id=admin["id"], status="administrator")

    updates = [scene.say(admin, "scam scam scam") for _ in range(4)]
    updates.append(scene.say(scene.owner, "scam"))  # the creator is an admin too

    assert all(scene.live(_message_id(u)) for u in updates)
    assert scene.member(admin)["status"] == "member"
    assert _actions(scene) == []


def test_moderation_off_checks_nothing_but_still_counts(scene):
    _rules(scene, blocklist={"words": ["scam"], "action": "ban"})
    moderation_rules_update(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        rules={"enabled": False, "blocklist": {"words": ["scam"], "action": "ban"}},
        actor=Actor.user(scene.owner["id"]),
    )
    user = scene.user("free")

    update = scene.say(user, "scam")

    assert scene.live(_message_id(update))
    assert _counted(scene, user) == 1
    assert scene.group().effective_features["moderation"] is False


def test_new_rules_apply_to_the_next_message(scene):
    _rules(scene, blocklist={"words": ["alpha"], "action": "delete"}, **QUIET)
    user = scene.user("ulla")
    first = scene.say(user, "beta")

    _rules(scene, blocklist={"words": ["beta"], "action": "delete"}, **QUIET)
    second = scene.say(user, "beta")

    assert scene.live(_message_id(first)) and not scene.live(_message_id(second))


def test_telegram_refusal_is_logged_on_the_action(make_scene):
    scene = make_scene(bot_rights={"can_restrict_members": False})
    _rules(scene, blocklist={"words": ["scam"], "action": "mute", "mute_seconds": 600}, **QUIET)
    user = scene.user("vic")

    update = scene.say(user, "scam")

    assert not scene.live(_message_id(update))
    assert scene.member(user)["status"] == "member"
    [action] = _actions(scene)
    assert action.action == "mute" and action.error.startswith("mute: ")
    entry = Entry.objects.get(tenant=scene.tenant, action="moderation.action_failed")
    assert entry.data["moderation_action_id"] == action.pk


def test_edited_messages_are_checked_but_not_counted(scene):
    _rules(scene, blocklist={"words": ["scam"], "action": "delete"}, **QUIET)
    user = scene.user("eddie")
    update = scene.say(user, "fine message")
    edited = {
        "update_id": update["update_id"] + 1000,
        "edited_message": {**update["message"], "text": "now a scam", "edit_date": 2},
    }

    scene.process(edited)

    assert not scene.live(_message_id(update))
    assert _counted(scene, user) == 1
    assert [a.rule for a in _actions(scene)] == ["blocklist"]


def test_the_log_forgets_old_actions_but_never_strikes_inside_the_window(make_scene, settings):
    settings.MODERATION_LOG_RETENTION_DAYS = 30
    short, long = make_scene(title="Short"), make_scene(title="Long")
    _rules(long, escalation={"window_hours": 24 * 90})  # strikes count for 90 days
    now = timezone.now()
    ages = [5, 45, 120]  # days
    for scene in (short, long):
        with tenant_context(scene.tenant):
            group = scene.group()
            for days in ages:
                row = ModerationAction.objects.create(
                    group=group, user_id=7, rule="blocklist", action="warn", strike=1
                )
                ModerationAction.objects.filter(pk=row.pk).update(
                    created_at=now - timedelta(days=days)
                )

    assert moderation_log_prune(tenant=short.tenant, now=now) == 2
    assert moderation_log_prune(tenant=long.tenant, now=now) == 1

    def ages_left(scene) -> list[int]:
        with tenant_context(scene.tenant):
            return sorted((now - a.created_at).days for a in ModerationAction.objects.all())

    assert ages_left(short) == [5]  # past the 30 days kept
    assert ages_left(long) == [5, 45]  # the 90-day window keeps the 45-day strike
