"""The admins' commands in a bound group on the sandbox Telegram: /newgiveaway and
/drawgiveaway, /newcontest, /results. Each needs a group admin holding ``manage_raids``
(Telegram confirming it); bad words are answered with what is wrong and write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from raids.handlers.admin import NEWGIVEAWAY_USAGE
from raids.handlers.raids import NOT_ALLOWED
from raids.models import Contest, Giveaway, Raid
from tests.raids.helpers import join
from wallet.models import Hold


def test_an_admin_opens_and_draws_a_giveaway(raid_scene, say):
    replies = say(raid_scene.owner, "/newgiveaway 5 USDT 2 60 Launch week")
    with tenant_context(raid_scene.tenant):
        giveaway = Giveaway.objects.get()
    assert (giveaway.title, giveaway.pool_amount, giveaway.winners) == ("Launch week", 5_000_000, 2)
    assert Hold.objects.get(pk=giveaway.hold_id).amount == 5_000_000
    assert any(
        r.startswith(f"Giveaway #{giveaway.pk} open: 5 USDT for 2 winner(s)") for r in replies
    )
    [early] = say(raid_scene.owner, f"/drawgiveaway {giveaway.pk}")
    assert early.startswith(f"Could not draw giveaway #{giveaway.pk}")
    with tenant_context(raid_scene.tenant):
        Giveaway.objects.filter(pk=giveaway.pk).update(
            draw_at=timezone.now() - timedelta(seconds=1)
        )
    replies = say(raid_scene.owner, f"/drawgiveaway {giveaway.pk}")
    assert f"Giveaway #{giveaway.pk} drawn: 0 winner(s); the draw is published." in replies
    with tenant_context(raid_scene.tenant):
        assert Giveaway.objects.get(pk=giveaway.pk).status == Giveaway.Status.DRAWN


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("/newgiveaway 5 USDT", NEWGIVEAWAY_USAGE),
        ("/newgiveaway 5 DOGE 2 60", "Could not open the giveaway: currency: one of"),
        ("/newgiveaway 5 USDT 0 60", "Could not open the giveaway: winners: a number from 1"),
        ("/newgiveaway 5000000 USDT 1 60", "Could not open the giveaway:"),
        ("/newcontest 3,x USDT 24", "Could not open the contest: prizes:"),
    ],
)
def test_bad_words_are_answered_and_write_nothing(raid_scene, say, text, answer):
    replies = say(raid_scene.owner, text)
    assert any(r.startswith(answer) for r in replies), replies
    with tenant_context(raid_scene.tenant):
        assert not Giveaway.objects.exists() and not Contest.objects.exists()
    assert not Hold.objects.filter(tenant=raid_scene.tenant).exists()


def test_an_admin_opens_a_contest(raid_scene, say):
    [reply] = say(raid_scene.owner, "/newcontest 3,2 USDT 24 Week one")
    with tenant_context(raid_scene.tenant):
        contest = Contest.objects.get()
    assert (contest.title, contest.prizes) == ("Week one", [3_000_000, 2_000_000])
    assert (contest.ends_at - contest.starts_at) == timedelta(hours=24)
    assert reply.startswith(f"Contest #{contest.pk} open until")


def test_results_of_a_raid_for_its_admins(raid_scene, raid_x, make_raid, linked, say):
    raid = make_raid(raid_scene, pool=1_000_000)
    join(raid_scene, raid, *linked(raid_scene, raid_x, "ada"))
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(participants_count=1)
    [reply] = say(raid_scene.owner, f"/results {raid.pk}")
    assert reply.startswith(f"Raid #{raid.pk} (active): 1 participant(s), 0 excluded")
    assert "Paid: 0 USDT of 1 USDT" in reply
    [missing] = say(raid_scene.owner, "/results 999999")
    assert missing.startswith("Could not read raid #999999")


def test_a_member_who_is_not_a_raid_manager_is_refused(raid_scene, say):
    member = raid_scene.tg.add_user(8_700_001, "Mia")
    raid_scene.tg.set_member(raid_scene.chat_id, member["id"], "member")
    for text in ("/newgiveaway 5 USDT 2 60", "/newcontest 3 USDT 24", "/results 1"):
        assert say(member, text) == [NOT_ALLOWED]
    with tenant_context(raid_scene.tenant):
        assert not Giveaway.objects.exists() and not Contest.objects.exists()
