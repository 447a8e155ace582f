"""The policy for one group message (``community.services.messages``), called as the
handler calls it: who is exempt, what moderation decides, what the leaderboard counts,
and that a message breaking no rule costs no database access."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import tenant_context

from community.group_config import GroupConfig, group_config_load
from community.models import ActivityDay, ModerationAction
from community.rules import MessageFacts
from community.services import (
    ACTIVITY,
    GROUP_ANONYMOUS_BOT_ID,
    GroupMessage,
    MessageDecision,
    group_message_handle,
    moderation_rules_update,
)
from community.services.messages import TELEGRAM_SERVICE_ID
from history.services import Actor

MEMBER = 6_100_001
QUIET = {"flood": {"enabled": False}, "new_members": {"enabled": False}}


def _config(scene, *, action: str = "mute", **rules) -> GroupConfig:
    moderation_rules_update(
        tenant=scene.tenant,
        chat_id=scene.chat_id,
        rules={
            "enabled": True,
            **QUIET,
            "blocklist": {"words": ["scam*"], "action": action, "mute_seconds": 600},
            **rules,
        },
        actor=Actor.user(scene.owner["id"]),
    )
    return group_config_load(tenant=scene.tenant, chat_id=scene.chat_id)


def _message(text: str, *, user_id: int = MEMBER, **fields) -> GroupMessage:
    values = {
        "message_id": 41,
        "user_id": user_id,
        "user_name": "Mia",
        "username": "mia",
        "sender_is_bot": False,
        "on_behalf_of_chat": False,
        "edited": False,
        "facts": MessageFacts(text=text),
        **fields,
    }
    return GroupMessage(**values)


def _handle(scene, config: GroupConfig, message: GroupMessage) -> MessageDecision:
    return async_to_sync(group_message_handle)(
        tenant=scene.tenant, config=config, message=message, bot_id=scene.bot_id
    )


def _counted(scene) -> dict[int, int]:
    """Messages counted per user, once the buffer is written (as the runtime does)."""
    ACTIVITY.flush()
    with tenant_context(scene.tenant):
        return dict(ActivityDay.objects.values_list("user_id", "messages"))


def _logged(scene) -> list[tuple[int, str, str]]:
    with tenant_context(scene.tenant):
        return list(ModerationAction.objects.values_list("user_id", "rule", "action"))


def test_a_message_that_breaks_no_rule_is_counted_without_touching_the_database(scene):
    config = _config(scene)
    with CaptureQueriesContext(connection) as queries:
        decision = _handle(scene, config, _message("hello everyone, good morning"))
    assert len(queries) == 0
    assert decision.counted and not decision.delete and decision.restrict is None
    assert _counted(scene) == {MEMBER: 1}


@pytest.mark.parametrize(
    "fields",
    [
        {"sender_is_bot": True},
        {"on_behalf_of_chat": True},
        {"user_id": GROUP_ANONYMOUS_BOT_ID},
        {"user_id": TELEGRAM_SERVICE_ID},
    ],
    ids=["bot", "channel_or_anonymous_admin", "anonymous_admin_bot", "telegram_service"],
)
def test_bots_channels_and_anonymous_admins_are_neither_policed_nor_counted(scene, fields):
    config = _config(scene)
    decision = _handle(scene, config, _message("scamcoin here", **fields))
    assert decision == MessageDecision()
    assert _logged(scene) == []
    assert _counted(scene) == {}


def test_a_group_admin_is_exempt_from_the_rules_and_still_counted(scene):
    config = _config(scene)
    assert scene.owner["id"] in config.admin_ids
    decision = _handle(scene, config, _message("scamcoin here", user_id=scene.owner["id"]))
    assert decision.counted and not decision.delete
    assert _logged(scene) == []
    assert _counted(scene) == {scene.owner["id"]: 1}


def test_a_broken_rule_decides_delete_and_mute_logs_it_and_is_not_counted(scene):
    config = _config(scene, action="mute")
    decision = _handle(scene, config, _message("buy scamcoin now"))
    assert decision.delete and decision.restrict == "mute" and not decision.counted
    assert decision.until is not None
    assert decision.enforcement.rule == "blocklist"
    assert _logged(scene) == [(MEMBER, "blocklist", "mute")]
    assert _counted(scene) == {}


def test_a_ban_rule_decides_a_ban_and_a_delete_rule_only_the_deletion(scene):
    config = _config(scene, action="ban")
    banned = _handle(scene, config, _message("scamcoin"))
    assert banned.delete and banned.restrict == "ban" and banned.until is None
    config = _config(scene, action="delete")
    deleted = _handle(scene, config, _message("scamcoin", user_id=MEMBER + 1))
    assert deleted.delete and deleted.restrict is None


def test_an_edited_message_is_checked_but_never_counted(scene):
    config = _config(scene)
    assert _handle(scene, config, _message("fixed a typo", edited=True)) == MessageDecision()
    assert _handle(scene, config, _message("now scamcoin", edited=True)).delete
    assert _counted(scene) == {}


def test_with_moderation_off_a_message_is_only_counted(scene):
    config = _config(scene, enabled=False)
    decision = _handle(scene, config, _message("scamcoin"))
    assert decision.counted and not decision.delete
    assert _logged(scene) == []


def test_with_the_leaderboard_off_nothing_is_counted(scene):
    scene.update_group(features={"leaderboard": False})
    config = _config(scene)
    assert _handle(scene, config, _message("hello")) == MessageDecision()
    assert _counted(scene) == {}
