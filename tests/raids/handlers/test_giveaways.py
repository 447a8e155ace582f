"""``/giveaway`` and ``/contest`` in a bound group on the sandbox Telegram: the open
giveaways listed, a member entering (Telegram confirming membership), an unmet
condition refused with its reason (non-members: the API's tests), the standings."""

from __future__ import annotations

from datetime import UTC, datetime

from django_tenants.utils import tenant_context

from community.services.leaderboard import xp_award
from raids.handlers.giveaways import GIVEAWAY_USAGE, NOT_IN_GROUP
from tests.helpers import application_process


def test_list_then_enter_and_a_non_member_is_told_why(raid_scene, make_giveaway, say):
    assert say(raid_scene.owner, "/giveaway") == ["No open giveaway in this group."]
    giveaway = make_giveaway(raid_scene, members_only=True, title="Launch")
    [listing] = say(raid_scene.owner, "/giveaway")
    assert f"#{giveaway.pk} Launch" in listing and giveaway.commitment[:16] in listing

    member = raid_scene.tg.add_user(8_600_001, "Mia")
    raid_scene.tg.set_member(raid_scene.chat_id, member["id"], "member")
    [entered] = say(member, f"/giveaway {giveaway.pk}")
    assert entered.startswith(f"Mia, you are in giveaway #{giveaway.pk}")
    [again] = say(member, f"/giveaway {giveaway.pk}")
    assert again == "Could not enter: you already entered this giveaway."

    # A condition Telegram's word cannot meet: no X account linked.
    linked_only = make_giveaway(raid_scene, x_linked=True, title="For X users")
    [refused] = say(member, f"/giveaway {linked_only.pk}")
    assert refused == "Could not enter: link your X account first."
    with tenant_context(raid_scene.tenant):
        assert list(giveaway.entries.values_list("user_id", flat=True)) == [member["id"]]
    assert say(raid_scene.owner, "/giveaway one two") == [GIVEAWAY_USAGE]


def test_giveaway_outside_the_group_points_there(raid_scene, say):
    person = raid_scene.tg.add_user(8_600_003, "Pat")
    private = raid_scene.tg.send_message(raid_scene.bot_id, person["id"], person["id"], "/giveaway")
    application_process(say.application, private)
    assert raid_scene.tg.sent(raid_scene.bot_id, person["id"])[-1]["text"] == NOT_IN_GROUP


def test_contest_shows_the_standings(raid_scene, say, make_contest):
    assert say(raid_scene.owner, "/contest") == ["No EXP contest in this group yet."]
    now = datetime.now(UTC)
    contest = make_contest(raid_scene, [100], title="Week")
    xp_award(
        tenant=raid_scene.tenant,
        chat_id=raid_scene.chat_id,
        user_id=42,
        xp=7,
        day=now.date(),
        name="Zed",
    )
    [text] = say(raid_scene.owner, "/contest")
    assert text.splitlines()[0].startswith(f"EXP contest #{contest.pk} Week, standings so far")
    assert text.splitlines()[1] == "1. Zed: 7 EXP"
    [missing] = say(raid_scene.owner, "/contest 999999")
    assert missing == "Could not show the contest: contest 999999 is not in this group."
