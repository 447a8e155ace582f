"""Joining a raid: the X link X confirmed (and Telegram, when the request has only the
community's word), eligibility against what X and Telegram say, the role, one
participation per person and per X account, a pending result per task of the role; and
the progress message a participant gets as tasks are confirmed."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from community.models import ActivityTotal, Group
from config.errors import ServiceError
from history.models import Entry
from notifications.models import OutboxMessage
from raids.models import Blocked, Participant, Raid, Result
from raids.services import participation
from raids.services.participation import participants_notify_progress, raid_join
from tests.raids.helpers import join as insert_participant
from xclient.models import XLink
from xfeed.models import Kol

TASKS = [("repost", 10, {}), ("like", 5, {}), ("quote", 30, {})]


@pytest.fixture
def raid(raid_scene, make_raid) -> Raid:
    raid = make_raid(raid_scene, tasks=TASKS)
    with tenant_context(raid_scene.tenant):
        raid.tasks.filter(kind="quote").update(role="kol")
    return raid


def join(scene, raid, user, **kwargs):
    return raid_join(tenant=scene.tenant, raid=raid, user=user, **kwargs)


def refused(scene, raid, user, **kwargs) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        join(scene, raid, user, **kwargs)
    with tenant_context(scene.tenant):
        assert not Participant.objects.filter(user_id=user.telegram_id).exists()
        assert Raid.objects.get(pk=raid.pk).participants_count == 0
    return caught.value


def test_joining_makes_a_participant_with_a_pending_result_per_task_of_their_role(
    raid_scene, raid_x, raid, linked
):
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    participant, created = join(raid_scene, raid, alice)
    assert created
    assert (participant.x_user_id, participant.x_username) == (
        int(alice_x["id"]),
        alice_x["username"],
    )
    assert participant.role == "member"
    with tenant_context(raid_scene.tenant):
        results = list(participant.results.values_list("task__kind", "status"))
        assert Raid.objects.get(pk=raid.pk).participants_count == 1
    assert sorted(results) == [("like", "pending"), ("repost", "pending")]
    entry = Entry.objects.get(tenant_id=raid_scene.tenant.pk, action="raids.participant_joined")
    assert entry.data["x_user_id"] == int(alice_x["id"]) and entry.actor_id == str(
        alice.telegram_id
    )


def test_joining_again_answers_the_same_participation(raid_scene, raid_x, raid, linked):
    alice, _ = linked(raid_scene, raid_x, "alice")
    first, _ = join(raid_scene, raid, alice)
    again, created = join(raid_scene, raid, alice)
    assert (again.pk, created) == (first.pk, False)
    with tenant_context(raid_scene.tenant):
        assert Raid.objects.get(pk=raid.pk).participants_count == 1
        assert Result.objects.filter(participant=first).count() == 2


def test_a_kol_of_the_community_joins_with_the_kol_tasks(raid_scene, raid_x, raid, linked):
    kol, kol_x = linked(raid_scene, raid_x, "kolly")
    with tenant_context(raid_scene.tenant):
        Kol.objects.create(x_user_id=int(kol_x["id"]), username=kol_x["username"])
    participant, _ = join(raid_scene, raid, kol)
    assert participant.role == "kol"
    with tenant_context(raid_scene.tenant):
        assert list(participant.results.values_list("task__kind", flat=True)) == ["quote"]


def test_an_x_account_joins_once_even_relinked_to_another_telegram_account(
    raid_scene, raid_x, raid, linked
):
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    bob, _ = linked(raid_scene, raid_x, "bob")
    join(raid_scene, raid, alice)
    # Bob's link now names Alice's X account (as if she unlinked it and he linked it).
    XLink.objects.filter(user=alice).update(unlinked_at=timezone.now())
    XLink.objects.filter(user=bob).update(
        x_user_id=int(alice_x["id"]), username=alice_x["username"]
    )
    error = refused_but_counted(raid_scene, raid, bob)
    assert (error.code, error.status) == ("x_account_taken", 409)


def refused_but_counted(scene, raid, user) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        join(scene, raid, user)
    with tenant_context(scene.tenant):
        assert Raid.objects.get(pk=raid.pk).participants_count == 1
        assert Participant.objects.count() == 1
    return caught.value


def test_without_an_x_link_one_cannot_join(raid_scene, raid_x, raid, linked):
    alice, _ = linked(raid_scene, raid_x, "alice")
    XLink.objects.filter(user=alice).update(unlinked_at=timezone.now())
    error = refused(raid_scene, raid, alice)
    assert (error.code, error.status) == ("not_linked", 403)


def test_on_the_communitys_word_alone_the_link_must_be_telegram_confirmed(
    raid_scene, raid_x, raid, linked
):
    alice, _ = linked(raid_scene, raid_x, "alice")
    XLink.objects.filter(user=alice).update(confirmed=False)
    assert refused(raid_scene, raid, alice, confirmed=False).code == "link_unconfirmed"
    # Telegram vouches for the request (a bot update): the X-confirmed link is enough.
    assert join(raid_scene, raid, alice, confirmed=True)[1]


def test_an_x_account_younger_than_the_raid_asks_is_refused(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene, min_account_age_days=30)
    young, _ = linked(raid_scene, raid_x, "young", age_days=29)
    old, _ = linked(raid_scene, raid_x, "old", age_days=31)
    assert refused(raid_scene, raid, young).code == "account_too_new"
    assert join(raid_scene, raid, old)[1]


def test_too_few_followers_is_refused(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene, min_followers=100)
    few, _ = linked(raid_scene, raid_x, "few", followers=99)
    many, _ = linked(raid_scene, raid_x, "many", followers=100)
    assert refused(raid_scene, raid, few).code == "too_few_followers"
    assert join(raid_scene, raid, many)[1]


def test_a_members_only_raid_asks_telegram_who_is_in_the_group(
    raid_scene, raid_x, make_raid, linked
):
    raid = make_raid(raid_scene, members_only=True)
    outsider, _ = linked(raid_scene, raid_x, "outsider", member=False)
    assert refused(raid_scene, raid, outsider).code == "not_a_member"
    raid_scene.tg.set_member(raid_scene.chat_id, outsider.telegram_id, "left")
    assert refused(raid_scene, raid, outsider).code == "not_a_member"
    raid_scene.tg.set_member(raid_scene.chat_id, outsider.telegram_id, "member")
    assert join(raid_scene, raid, outsider)[1]
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(status=Raid.Status.SETTLED)
    open_raid = make_raid(raid_scene, members_only=False, title="open")
    stranger, _ = linked(raid_scene, raid_x, "stranger", member=False)
    assert join(raid_scene, open_raid, stranger)[1]


def test_the_community_level_comes_from_the_leaderboards_xp(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene, min_level=2)
    alice, _ = linked(raid_scene, raid_x, "alice")
    error = refused(raid_scene, raid, alice)
    assert error.code == "level_too_low" and "you are level 0" in error.message
    with tenant_context(raid_scene.tenant):
        group = Group.objects.get(chat_id=raid_scene.chat_id)
        total = ActivityTotal.objects.create(
            group=group, user_id=alice.telegram_id, xp=399, last_day=date(2026, 1, 1)
        )
    assert "you are level 1" in refused(raid_scene, raid, alice).message
    with tenant_context(raid_scene.tenant):
        ActivityTotal.objects.filter(pk=total.pk).update(xp=400)
    assert join(raid_scene, raid, alice)[1]


def test_the_blocklist_refuses_a_telegram_user_or_an_x_account(raid_scene, raid_x, raid, linked):
    alice, _ = linked(raid_scene, raid_x, "alice")
    bob, bob_x = linked(raid_scene, raid_x, "bob")
    with tenant_context(raid_scene.tenant):
        Blocked.objects.create(user_id=alice.telegram_id)
        Blocked.objects.create(x_user_id=int(bob_x["id"]))
    assert refused(raid_scene, raid, alice).code == "blocked"
    assert refused(raid_scene, raid, bob).code == "blocked"


@pytest.mark.parametrize(
    ("status", "shift"),
    [
        (Raid.Status.SCHEDULED, timedelta(0)),
        (Raid.Status.VALIDATING, timedelta(0)),
        (Raid.Status.CANCELLED, timedelta(0)),
        (Raid.Status.ACTIVE, timedelta(hours=2)),  # past its end, not closed yet
    ],
)
def test_only_an_open_raid_can_be_joined(raid_scene, raid_x, raid, linked, status, shift):
    alice, _ = linked(raid_scene, raid_x, "alice")
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(status=status)
    error = refused(raid_scene, raid, alice, now=timezone.now() + shift)
    assert (error.code, error.status) == ("raid_not_active", 409)


def test_a_participant_hears_of_confirmed_tasks_once_per_pass(raid_scene, raid_x, raid, linked):
    alice, _ = linked(raid_scene, raid_x, "alice")
    bob, _ = linked(raid_scene, raid_x, "bob")
    participant, _ = join(raid_scene, raid, alice)
    join(raid_scene, raid, bob)
    with tenant_context(raid_scene.tenant):
        repost = participant.results.get(task__kind="repost")
        Result.objects.filter(pk=repost.pk).update(status="verified")
        for pass_id in ("pass-1", "pass-1", "pass-2"):
            participants_notify_progress(
                tenant=raid_scene.tenant,
                raid=raid,
                participant_ids=[participant.pk],
                pass_id=pass_id,
            )
        assert not participants_notify_progress(
            tenant=raid_scene.tenant, raid=raid, participant_ids=[], pass_id="pass-3"
        )
    messages = OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.progress")
    # One message per pass (the same pass again sends nothing), to Alice only.
    assert messages.count() == 2
    assert set(messages.values_list("chat_id", flat=True)) == {alice.telegram_id}
    message = messages.first()
    assert message is not None and "10/15 pts" in message.text
    assert "Repost: 10 pts - done" in message.text and "Like: 5 pts - pending" in message.text


def test_a_concurrent_join_of_the_same_person_answers_the_participation_that_won(
    raid_scene, raid_x, raid, linked, monkeypatch
):
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    role_of = participation.role_of

    def meanwhile(**kwargs):
        # Another request of Alice's joins between this one's lookup and its insert.
        insert_participant(raid_scene, raid, alice, alice_x)
        return role_of(**kwargs)

    monkeypatch.setattr(participation, "role_of", meanwhile)
    participant, created = join(raid_scene, raid, alice)
    assert not created
    with tenant_context(raid_scene.tenant):
        assert Participant.objects.get().pk == participant.pk
        assert Raid.objects.get(pk=raid.pk).participants_count == 1
