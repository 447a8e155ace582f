"""The raids commands through the sandbox Telegram, with the handlers the runtime hosts
(accounts' core /start first, then community's, then raids'): /newraid and /cancelraid
for the group's raid managers, /raid in a group and in private, the "Join" deep link
(instead of the core /start's welcome), /progress."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.telegram import handlers as accounts_handlers
from community.telegram import handlers as community_handlers
from config.errors import ServiceError
from raids.handlers.raids import id_typed, newraid_terms
from raids.models import Participant, Raid
from raids.telegram import handlers as raids_handlers
from tests.helpers import application_process, sandbox_application, tenant_bot_token
from tests.raids.helpers import CURRENCY, GROUP_FUNDS
from wallet.selectors import balances
from xclient.models import XLink


@pytest.fixture
def bot(raid_scene):
    application = sandbox_application(
        raid_scene.tg,
        tenant_bot_token(raid_scene.tenant),
        [*accounts_handlers(), *community_handlers(), *raids_handlers()],
    )

    def say(user_id: int, text: str, chat_id: int | None = None) -> list[str]:
        """``user_id`` writes ``text`` (in ``chat_id``, default their private chat);
        the texts the bot sent there meanwhile."""
        chat = user_id if chat_id is None else chat_id
        tg = raid_scene.tg
        before = len(tg.sent(raid_scene.bot_id, chat))
        application_process(application, tg.send_message(raid_scene.bot_id, chat, user_id, text))
        return [m["text"] for m in tg.sent(raid_scene.bot_id, chat)[before:]]

    return say


def test_a_raid_manager_creates_and_cancels_a_raid_from_the_group(raid_scene, raid_x, bot):
    owner, chat = raid_scene.owner["id"], raid_scene.chat_id
    url = f"https://x.com/project/status/{raid_x.target['id']}"
    [usage] = bot(owner, "/newraid", chat)
    assert usage.startswith("Use /newraid")
    [answer] = bot(owner, f"/newraid {url} 50 usdt 120", chat)
    assert answer.startswith("Raid #") and "pool 50 USDT" in answer, answer
    with tenant_context(raid_scene.tenant):
        raid = Raid.objects.get()
        kinds = list(raid.tasks.values_list("kind", "points"))
    assert kinds == [("repost", 10), ("like", 5), ("reply", 10)]
    assert raid.ends_at - raid.starts_at == timedelta(minutes=120)
    assert raid.created_by == owner
    [again] = bot(owner, f"/newraid {url} 50 USDT", chat)
    assert "another open raid" in again
    [listed] = bot(owner, "/raid", chat)
    assert listed.startswith("Active raids:") and f"#{raid.pk} @project" in listed
    [cancelled] = bot(owner, f"/cancelraid {raid.pk}", chat)
    assert cancelled == f"Raid #{raid.pk} cancelled; 50 USDT went back to the group."
    balance = balances(tenant=raid_scene.tenant, owner_kind="group", owner_id=chat)
    assert balance[CURRENCY]["available"] == GROUP_FUNDS
    [none] = bot(owner, "/raid", chat)
    assert none == "No active raids right now."


def test_an_id_is_what_people_type_and_fits_a_bigint():
    assert [id_typed(w) for w in ("12", "#12", "9" * 18)] == [12, 12, int("9" * 18)]
    odd = ["9" * 19, "²", "١٢", "-1", "#", "12a", "1 2", ""]
    assert [id_typed(w) for w in odd] == [None] * len(odd)


@pytest.mark.parametrize("word", ["²", "9" * 19, "#x"])
def test_a_command_on_an_odd_id_answers_its_usage(raid_scene, raid_x, bot, word):
    owner, chat = raid_scene.owner["id"], raid_scene.chat_id
    for command, usage in [("cancelraid", "Use /cancelraid"), ("results", "Usage: /results")]:
        [answer] = bot(owner, f"/{command} {word}", chat)
        assert answer.startswith(usage), (command, answer)


def test_a_member_who_is_not_a_raid_manager_is_refused(raid_scene, raid_x, bot, linked):
    alice, _ = linked(raid_scene, raid_x, "alice")
    url = f"https://x.com/project/status/{raid_x.target['id']}"
    [answer] = bot(alice.telegram_id, f"/newraid {url} 50 USDT", raid_scene.chat_id)
    assert answer.startswith("Only the group's admins")
    with tenant_context(raid_scene.tenant):
        assert not Raid.objects.exists()


def test_the_join_link_joins_in_private_and_progress_follows(
    raid_scene, raid_x, bot, linked, make_raid
):
    raid = make_raid(raid_scene)
    alice, alice_x = linked(raid_scene, raid_x, "alice")
    [joined] = bot(alice.telegram_id, f"/start raid_{raid.pk}")  # no core welcome after it
    assert joined.startswith(f"You joined raid #{raid.pk} as @{alice_x['username']}")
    assert "Repost: 10 pts - pending" in joined
    [again] = bot(alice.telegram_id, f"/start raid_{raid.pk}")
    assert again.startswith("You already joined")
    [progress] = bot(alice.telegram_id, "/progress")
    assert progress.startswith("Your progress in the raid on @project: 0/15 pts")
    [listed] = bot(alice.telegram_id, "/raid")
    assert f"#{raid.pk} @project: 1 joined" in listed
    # Any other /start payload goes on to the core welcome.
    [welcome] = bot(alice.telegram_id, "/start hello")
    assert welcome.startswith("Welcome to")


def test_a_refused_join_says_what_to_do(raid_scene, raid_x, bot, linked, make_raid):
    raid = make_raid(raid_scene)
    alice, _ = linked(raid_scene, raid_x, "alice")
    XLink.objects.filter(user=alice).update(unlinked_at=timezone.now())
    [answer] = bot(alice.telegram_id, f"/start raid_{raid.pk}")
    assert answer.startswith("Could not join: link your X account first")
    assert "/linkx" in answer
    [gone] = bot(alice.telegram_id, "/start raid_424242")
    assert gone.startswith("Could not join: no raid 424242")
    with tenant_context(raid_scene.tenant):
        assert not Participant.objects.exists()


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["https://x.com/p/status/1", "5", "DOGE"], "currency"),
        (["https://x.com/p/status/1", "five", "USDT"], "pool"),
        (["https://x.com/p/status/1", "5", "USDT", "0"], "minutes"),
    ],
)
def test_newraid_words_are_checked(args, field):
    with pytest.raises(ServiceError) as refused:
        newraid_terms(args)
    assert refused.value.message.startswith(f"{field}:")


def test_an_admin_telegram_no_longer_confirms_is_refused(raid_scene, raid_x, bot):
    owner, chat = raid_scene.owner["id"], raid_scene.chat_id
    raid_scene.tg.set_member(chat, owner, "member")  # demoted since the last admin sync
    url = f"https://x.com/project/status/{raid_x.target['id']}"
    [answer] = bot(owner, f"/newraid {url} 50 USDT", chat)
    assert answer.startswith("Only the group's admins")
    with tenant_context(raid_scene.tenant):
        assert not Raid.objects.exists()
