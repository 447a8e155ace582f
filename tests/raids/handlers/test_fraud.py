"""``/flags``, ``/dismiss`` and ``/uphold`` in a bound group on the sandbox Telegram: the
group's admin (who manages raids) sees that group's open flags in short and decides
them with a note (audited, the participant back or kept out); members are refused; a
private chat is pointed to the group; a flag of another group's raid is not decided
from here."""

from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from history.models import Entry
from raids.handlers.fraud import NOT_IN_GROUP
from raids.handlers.raids import NOT_ALLOWED
from raids.models import Flag, Raid
from raids.services.fraud import fraud_scan
from tests.helpers import application_process
from tests.raids.helpers import join


@pytest.fixture
def flagged(raid_scene, raid_x, linked, make_raid):
    scene = raid_scene
    raid = make_raid(scene)
    young, young_x = linked(scene, raid_x, "young", age_days=1)
    join(scene, raid, young, young_x)
    [flag] = fraud_scan(tenant=scene.tenant, raid=raid)
    return raid, young, flag


def test_an_admin_lists_and_dismisses_with_a_note(raid_scene, say, flagged):
    scene = raid_scene
    raid, young, flag = flagged
    assert say(scene.owner, "/flags") == [
        "Open flags (1), excluded until decided:\n"
        f"#{flag.pk} account_young: user {young.telegram_id} in raid {raid.pk}\n"
        "Decide with /dismiss <id> [note] or /uphold <id> [note]."
    ]
    assert say(scene.owner, f"/dismiss {flag.pk} known to us") == [
        f"Flag #{flag.pk} dismissed: user {young.telegram_id} scores again."
    ]
    with tenant_context(scene.tenant):
        assert raid.participants.get().status == "active"
        assert Flag.objects.get().note == "known to us"
    entry = Entry.objects.get(tenant=scene.tenant, action="raids.flag_dismissed")
    assert entry.actor_id == str(scene.owner["id"])
    assert say(scene.owner, "/flags") == ["No open flags for this group's raids."]
    assert say(scene.owner, f"/uphold {flag.pk}") == [
        f"Could not uphold flag #{flag.pk}: this flag was already dismissed."
    ]


def test_uphold_keeps_out_and_bad_arguments_get_the_usage(raid_scene, say, flagged):
    scene = raid_scene
    _, young, flag = flagged
    assert say(scene.owner, "/uphold") == [
        "Use /uphold <flag id> [note], e.g. /uphold 12 checked with the user."
    ]
    assert say(scene.owner, "/uphold abc")[0].startswith("Use /uphold")
    assert say(scene.owner, f"/uphold #{flag.pk}") == [
        f"Flag #{flag.pk} upheld: user {young.telegram_id} stays excluded."
    ]


def test_members_are_refused_and_private_chats_pointed_to_the_group(raid_scene, say, flagged):
    scene = raid_scene
    _, _, flag = flagged
    member = scene.tg.add_user(7_399_301, "Max", username="max")
    scene.tg.set_member(scene.chat_id, member["id"], "member")
    assert say(member, "/flags") == [NOT_ALLOWED]
    assert say(member, f"/dismiss {flag.pk}") == [NOT_ALLOWED]
    with tenant_context(scene.tenant):
        assert Flag.objects.get().status == "open"
    private = scene.tg.send_message(scene.bot_id, member["id"], member["id"], "/flags")
    application_process(say.application, private)
    assert scene.tg.sent(scene.bot_id, member["id"])[-1]["text"] == NOT_IN_GROUP


def test_another_groups_flags_are_neither_listed_nor_decided_here(raid_scene, say, flagged):
    scene = raid_scene
    raid, _, flag = flagged
    with tenant_context(scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(chat_id=scene.chat_id - 1)
    assert say(scene.owner, "/flags") == ["No open flags for this group's raids."]
    assert say(scene.owner, f"/dismiss {flag.pk}") == [
        f"Could not dismiss flag #{flag.pk}: no such flag."
    ]
    with tenant_context(scene.tenant):
        assert Flag.objects.get().status == "open"
