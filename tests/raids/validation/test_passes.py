"""Validation passes against the sandbox X and Telegram over HTTP: each task kind is
verified from X's listings joined on the participant's X id, only the final pass fails
what was not found, a refusal of X leaves results pending, points and counters follow,
and passes during the raid read only what is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from history.models import Entry
from notifications.models import OutboxMessage
from raids.models import Participant, Raid, Result, Task
from raids.validation import evidence
from raids.validation.passes import raid_validate
from tests.raids.helpers import join
from xclient.models import RateWindow

REPOSTS = "GET /2/tweets/:id/retweeted_by"


def statuses(scene, participant) -> dict[str, str]:
    with tenant_context(scene.tenant):
        return {
            r.task.kind: r.status
            for r in Result.objects.filter(participant=participant).select_related("task")
        }


def reload(scene, obj):
    with tenant_context(scene.tenant):
        return type(obj).objects.get(pk=obj.pk)


@pytest.fixture
def everything(raid_scene, raid_x, make_raid, linked):
    """A raid with one task of each kind; alice does them all, bob only reposts and
    replies too short, carol (a group member) nothing on X."""
    target = raid_x.target
    raid = make_raid(
        raid_scene,
        tasks=[
            ("repost", 10, {}),
            ("quote", 5, {"required_words": ["v2"]}),
            ("reply", 3, {"min_length": 10}),
            ("like", 2, {}),
            ("follow", 4, {"x_user_id": str(target["author_id"])}),
            ("join", 1, {"chat_id": raid_scene.chat_id}),
        ],
    )
    people = {}
    for name in ("alice", "bob", "carol"):
        user, account = linked(raid_scene, raid_x, name)
        people[name] = (join(raid_scene, raid, user, account), account)
    alice, bob = people["alice"][1]["username"], people["bob"][1]["username"]
    raid_x.repost(alice, target["id"])
    raid_x.quote(alice, target["id"], "V2 is here, finally")
    raid_x.reply(alice, target["id"], "congrats to the whole team")
    raid_x.like(alice, target["id"])
    raid_x.follow(alice, "project")
    raid_x.repost(bob, target["id"])
    raid_x.reply(bob, target["id"], "nice")
    raid_x.quote(bob, target["id"], "meh")  # no required word
    return raid, {name: p for name, (p, _) in people.items()}


def test_a_pass_verifies_each_kind_and_keeps_the_rest_pending(raid_scene, everything):
    raid, people = everything
    result = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert statuses(raid_scene, people["alice"]) == dict.fromkeys(
        ["repost", "quote", "reply", "like", "follow", "join"], "verified"
    )
    assert statuses(raid_scene, people["bob"]) == {
        "repost": "verified", "quote": "pending", "reply": "pending", "like": "pending",
        "follow": "pending", "join": "verified",
    }  # fmt: skip
    assert set(statuses(raid_scene, people["carol"]).values()) == {"pending", "verified"}
    assert (result.verified, result.failed, result.unverifiable) == (6 + 2 + 1, 0, 0)
    assert result.pending == 18 - 9
    # One call per listing (each fits one page), one lookup of the follow target, and
    # one getChatMember per participant.
    assert result.calls_by_endpoint == {
        "GET /2/tweets/:id/retweeted_by": 1,
        "GET /2/tweets/:id/quote_tweets": 1,
        "GET /2/tweets/search/recent": 1,
        "GET /2/tweets/:id/liking_users": 1,
        "GET /2/users": 1,
        "GET /2/users/:id/followers": 1,
        "getChatMember": 3,
    }
    with tenant_context(raid_scene.tenant):
        quote = Result.objects.get(participant=people["alice"], task__kind="quote")
        assert quote.evidence["via"] == "quote_tweets" and "V2" in quote.evidence["text"]
        assert quote.verified_at is not None and quote.checked_at is not None
        reply = Result.objects.get(participant=people["bob"], task__kind="reply")
        assert reply.evidence["problem"] == "shorter than 10 characters"
        assert [p.points for p in Participant.objects.filter(raid=raid).order_by("id")] == [
            25, 11, 1,
        ]  # fmt: skip
        raid = Raid.objects.get(pk=raid.pk)
        assert raid.verified_count == 9 and raid.validated_at is not None
    # Each of them had a task confirmed: one progress message each, in private.
    progress = OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.progress")
    assert sorted(progress.values_list("chat_id", flat=True)) == sorted(
        p.user_id for p in people.values()
    )


def test_the_final_pass_fails_what_was_not_found(raid_scene, everything):
    raid, people = everything
    raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert final.pending == 0 and final.verified == 0 and final.failed == 9
    bob = statuses(raid_scene, people["bob"])
    assert bob["reply"] == bob["quote"] == bob["like"] == bob["follow"] == "failed"
    with tenant_context(raid_scene.tenant):
        quote = Result.objects.get(participant=people["bob"], task__kind="quote")
        assert quote.evidence["problem"] == "missing required word: v2"
        # A second final pass changes nothing: decided results stay decided.
        again = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
        assert again.calls == 0 and (again.verified, again.failed) == (0, 0)
        assert Entry.objects.filter(action="raids.raid_validated").count() == 3


def test_what_the_final_pass_confirms_reaches_people_with_the_results_not_before(
    raid_scene, everything
):
    raid, _ = everything
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert final.verified == 9
    assert not OutboxMessage.objects.filter(tenant=raid_scene.tenant, event="raid.progress")


def test_x_refusing_leaves_tasks_pending_never_verified(raid_scene, raid_x, everything):
    raid, people = everything
    now = datetime.now(UTC)
    RateWindow.objects.create(
        credential="app:platform",
        endpoint=REPOSTS,
        limit=75,
        resets_at=now + timedelta(minutes=15),
        blocked_until=now + timedelta(minutes=15),
    )
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert final.refused == ["repost:x_blocked"]
    assert "GET /2/tweets/:id/retweeted_by" not in final.calls_by_endpoint
    for person in people.values():
        assert statuses(raid_scene, person)["repost"] == "pending"
    assert statuses(raid_scene, people["alice"])["quote"] == "verified"  # others went on
    assert reload(raid_scene, raid).validated_at is None  # not a complete pass
    assert final.pending == 3
    RateWindow.objects.filter(endpoint=REPOSTS).update(blocked_until=None)
    retry = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert (retry.verified, retry.failed, retry.pending) == (2, 1, 0)


def test_likes_past_x_cap_are_unverifiable_and_score_only_if_the_raid_says(
    raid_scene, raid_x, make_raid, linked
):
    target = raid_x.target
    raid = make_raid(raid_scene, tasks=[("like", 5, {})], unverifiable_scores=True)
    early_user, early = linked(raid_scene, raid_x, "early")
    late_user, late = linked(raid_scene, raid_x, "late")
    lazy_user, lazy = linked(raid_scene, raid_x, "lazy")
    people = [join(raid_scene, raid, u, a) for u, a in [(early_user, early), (late_user, late)]]
    people.append(join(raid_scene, raid, lazy_user, lazy))
    raid_x.like(early["username"], target["id"])
    for n in range(100):
        raid_x.add_account(f"fan{n}")
        raid_x.like(f"fan{n}", target["id"])
    raid_x.like(late["username"], target["id"])
    during = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert during.calls_by_endpoint == {"GET /2/tweets/:id/liking_users": 1}
    # During the raid, not among the 100 stays pending: they may like later.
    assert [statuses(raid_scene, p)["like"] for p in people] == [
        "pending", "verified", "pending",
    ]  # fmt: skip
    raid_x.like(lazy["username"], target["id"])
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert [statuses(raid_scene, p)["like"] for p in people] == [
        "unverifiable", "verified", "verified",
    ]  # fmt: skip
    assert final.unverifiable == 1
    # The early liker looks to X like one who never liked: scoring is the raid's choice.
    assert [reload(raid_scene, p).points for p in people] == [5, 5, 5]
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(unverifiable_scores=False)
    again = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert again.calls == 0  # nothing pending: nothing read, the points recomputed
    assert [reload(raid_scene, p).points for p in people] == [0, 5, 5]


def test_a_result_decided_while_the_pass_read_x_is_left_alone(
    raid_scene, raid_x, make_raid, linked, monkeypatch
):
    raid = make_raid(raid_scene, tasks=[("repost", 10, {})])
    user, account = linked(raid_scene, raid_x, "quick")
    quick = join(raid_scene, raid, user, account)
    raid_x.repost(account["username"], raid_x.target["id"])
    with tenant_context(raid_scene.tenant):
        row = Result.objects.create(participant=quick, task=raid.tasks.get())
    reposts = evidence.reposts

    def meanwhile(*args, **kwargs):
        found = reposts(*args, **kwargs)
        with tenant_context(raid_scene.tenant):  # another pass, or an admin, decided it
            Result.objects.filter(pk=row.pk).update(status="failed", evidence={"by": "other"})
        return found

    monkeypatch.setattr(evidence, "reposts", meanwhile)
    result = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert result.verified == 0
    with tenant_context(raid_scene.tenant):
        row.refresh_from_db()
    assert (row.status, row.evidence) == ("failed", {"by": "other"})
    assert reload(raid_scene, quick).points == 0


def test_excluded_participants_score_nothing_and_missing_rows_are_created(
    raid_scene, raid_x, make_raid, linked
):
    raid = make_raid(raid_scene, tasks=[("repost", 10, {}), ("like", 5, {})])
    user, account = linked(raid_scene, raid_x, "cheat")
    cheat = join(raid_scene, raid, user, account)
    user, account = linked(raid_scene, raid_x, "kol", followers=5000)
    kol = join(raid_scene, raid, user, account, role="kol")
    raid_x.repost(cheat.x_username, raid_x.target["id"])
    raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert reload(raid_scene, cheat).points == 10
    with tenant_context(raid_scene.tenant):
        Participant.objects.filter(pk=cheat.pk).update(status=Participant.Status.EXCLUDED)
        # KOLs' tasks: only the KOL's; members' tasks are not theirs.
        Task.objects.create(raid=raid, kind="repost", role="kol", points=50, position=9)
        # A pending row joining made: kept and updated, not duplicated.
        Result.objects.create(participant=kol, task=raid.tasks.get(kind="repost", role="kol"))
    raid_x.repost(kol.x_username, raid_x.target["id"])
    result = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert result.verified == 1
    assert statuses(raid_scene, cheat) == {"repost": "verified", "like": "pending"}
    assert statuses(raid_scene, kol) == {"repost": "verified"}
    assert reload(raid_scene, cheat).points == 0
    assert reload(raid_scene, kol).points == 50


def test_passes_during_the_raid_read_only_what_is_new(raid_scene, raid_x, make_raid, linked):
    target = raid_x.target
    raid = make_raid(raid_scene, tasks=[("repost", 10, {})])
    eve_user, eve = linked(raid_scene, raid_x, "eve")
    raid_x.repost(eve["username"], target["id"])  # long before she joins
    for n in range(250):
        raid_x.add_account(f"rt{n}")
        raid_x.repost(f"rt{n}", target["id"])
    people = [join(raid_scene, raid, *linked(raid_scene, raid_x, name)) for name in ("al", "bo")]
    raid_x.repost(people[0].x_username, target["id"])
    first = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert first.calls == 3 and first.verified == 1  # 252 reposters, bo not among them
    for n in range(10):
        raid_x.add_account(f"new{n}")
        raid_x.repost(f"new{n}", target["id"])
    second = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert second.calls == 1 and second.pending == 1  # stopped at al, seen before
    late = join(raid_scene, raid, eve_user, eve)
    third = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert third.calls == 3 and third.verified == 1  # eve joined since: a full read
    assert statuses(raid_scene, late) == {"repost": "verified"}
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert final.calls == 3 and final.failed == 1  # the final pass reads everything


def test_a_closed_raid_is_not_validated(raid_scene, raid_x, make_raid, linked):
    raid = make_raid(raid_scene)
    join(raid_scene, raid, *linked(raid_scene, raid_x, "zed"))
    with tenant_context(raid_scene.tenant):
        Raid.objects.filter(pk=raid.pk).update(status=Raid.Status.SETTLED)
    with pytest.raises(ServiceError) as refused:
        raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert refused.value.code == "raid_not_open"
    assert raid_x.calls() == []  # refused before asking X anything


def test_likes_past_x_cap_are_read_with_the_participants_own_token(
    raid_scene, raid_x, make_raid, linked, with_token
):
    """Past liking_users' 100: with a like.read token, the participant's own likes decide
    (verified; or, all read without the post, failed at the final pass); without one:
    unverifiable; X refusing their own read: pending, even at the final pass."""
    target = raid_x.target
    raid = make_raid(raid_scene, tasks=[("like", 5, {})])
    users = {name: linked(raid_scene, raid_x, name) for name in ("owner", "plain", "never", "shut")}
    people = {name: join(raid_scene, raid, *users[name]) for name in users}
    for name in ("owner", "plain", "shut"):
        raid_x.like(users[name][1]["id"], target["id"])
    for n in range(100):
        raid_x.add_account(f"fan{n}")
        raid_x.like(f"fan{n}", target["id"])
    links = {
        name: with_token(raid_scene, raid_x, *users[name]) for name in ("owner", "never", "shut")
    }
    now = datetime.now(UTC)
    RateWindow.objects.create(  # X blocked shut's own window for liked_tweets
        credential=f"link:{links['shut'].x_user_id}",
        endpoint=evidence.LIKED,
        limit=75,
        resets_at=now + timedelta(minutes=15),
        blocked_until=now + timedelta(minutes=15),
    )

    during = raid_validate(tenant=raid_scene.tenant, raid=raid, final=False)
    assert during.calls_by_endpoint == {evidence.LIKERS: 1, evidence.LIKED: 2}
    assert {name: statuses(raid_scene, p)["like"] for name, p in people.items()} == {
        "owner": "verified", "plain": "pending", "never": "pending", "shut": "pending",
    }  # fmt: skip
    assert during.refused == ["like:x_blocked"]
    final = raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert {name: statuses(raid_scene, p)["like"] for name, p in people.items()} == {
        "owner": "verified", "plain": "unverifiable", "never": "failed", "shut": "pending",
    }  # fmt: skip
    assert final.pending == 1
    with tenant_context(raid_scene.tenant):
        proofs = {r.participant_id: r.evidence for r in Result.objects.filter(task__raid=raid)}
    assert proofs[people["owner"].pk] == {"via": "liked_tweets", "page": 1}
    assert proofs[people["plain"].pk] == {"via": "liking_users", "reason": "past_100_cap"}
    assert proofs[people["never"].pk] == {"via": "liked_tweets", "reason": "not_found", "pages": 1}
    # The participant's link now names another X account: their token says nothing.
    RateWindow.objects.filter(endpoint=evidence.LIKED).update(blocked_until=None)
    with tenant_context(raid_scene.tenant):
        Participant.objects.filter(pk=people["shut"].pk).update(x_user_id=1)
        Result.objects.filter(participant=people["shut"]).delete()
    raid_validate(tenant=raid_scene.tenant, raid=raid, final=True)
    assert statuses(raid_scene, people["shut"])["like"] == "unverifiable"
