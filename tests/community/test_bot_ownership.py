"""A group's rules belong to the bot that bound it. Other bots in the same chat (another
of the tenant's bots, the platform bot) get the same updates from Telegram, and must not
apply the group's moderation, welcome check or leaderboard to them."""

from __future__ import annotations

from django_tenants.utils import tenant_context
from telegram.ext import Application
from telegram.request import HTTPXRequest

from botruntime.outgoing import ssl_context
from botruntime.selectors import tenant_resolve
from community.models import ActivityDay, ModerationAction
from community.services import group_unbind_on_bot_removed, moderation_rules_update
from community.telegram import handlers
from history.services import Actor
from tenancy.models import ChatBinding
from tenancy.services import bot_register
from tests.botruntime.helpers import flush_all_strictly
from tests.community.helpers import bind_by_adding
from tests.helpers import application_process, sandbox_application

PLATFORM_TOKEN = "690000007:AAHplatformbot-token-for-ownership-xyz"
SECOND_TOKEN = "690000008:AAHsecond-bot-of-the-tenant-for-owner-x"
RULES = {
    "enabled": True,
    "blocklist": {"words": ["scam"], "action": "delete"},
    "flood": {"enabled": False},
    "new_members": {"enabled": False},
}


def _application(tg, token: str) -> Application:
    request = HTTPXRequest(httpx_kwargs={"verify": ssl_context()})
    return sandbox_application(tg, token, handlers(), request=request)


def _process(application: Application, *updates: dict) -> None:
    application_process(application, *updates)
    flush_all_strictly()


def _rules(scene) -> None:
    moderation_rules_update(
        tenant=scene.tenant, chat_id=scene.chat_id, rules=RULES, actor=Actor.user(scene.owner["id"])
    )


def _untouched(scene, update: dict, user: dict) -> bool:
    """The message stands, nobody was moderated and nothing was counted."""
    with tenant_context(scene.tenant):
        acted = ModerationAction.objects.exists()
        counted = ActivityDay.objects.filter(user_id=user["id"]).exists()
    return scene.live(update["message"]["message_id"]) and not acted and not counted


def _other_bot_in_chat(scene, tg, token: str, username: str) -> dict:
    bot = tg.add_bot(token, username=username)
    tg.set_member(
        scene.chat_id,
        bot["id"],
        "administrator",
        can_delete_messages=True,
        can_restrict_members=True,
    )
    return bot


def test_another_bot_of_the_same_tenant_does_not_apply_the_groups_rules(scene, tg):
    _rules(scene)
    bot_register(tenant=scene.tenant, token=SECOND_TOKEN, audit=False)
    second = _other_bot_in_chat(scene, tg, SECOND_TOKEN, "second_bot")
    spammer = scene.user("spammy")

    update = tg.send_message(second["id"], scene.chat_id, spammer["id"], "a scam link")
    _process(_application(tg, SECOND_TOKEN), update)

    assert _untouched(scene, update, spammer)
    assert tg.sent(second["id"], scene.chat_id) == []
    # The bot that bound the group still enforces its rules.
    again = scene.say(spammer, "another scam")
    assert not scene.live(again["message"]["message_id"])


def test_the_platform_bot_in_the_same_chat_leaves_the_group_alone(scene, tg, settings):
    settings.PLATFORM_BOT_TOKEN = PLATFORM_TOKEN
    _rules(scene)
    platform = _other_bot_in_chat(scene, tg, PLATFORM_TOKEN, "bragabot")
    spammer = scene.user("spammy")
    # The chat is bound to the tenant through the tenant's own bot.
    assert ChatBinding.objects.get(chat_id=scene.chat_id).bot.telegram_id == scene.bot_id

    # The platform bot's routing does not follow a binding made through another bot.
    assert tenant_resolve(bot_id=platform["id"], chat_id=scene.chat_id).is_public
    update = tg.send_message(platform["id"], scene.chat_id, spammer["id"], "a scam link")
    _process(_application(tg, PLATFORM_TOKEN), update)

    assert _untouched(scene, update, spammer)
    assert tg.sent(platform["id"], scene.chat_id) == []


def test_bound_again_through_another_of_the_tenants_bots_that_bot_serves_it(scene, tg):
    _rules(scene)
    bot_register(tenant=scene.tenant, token=SECOND_TOKEN, audit=False)
    second = _other_bot_in_chat(scene, tg, SECOND_TOKEN, "second_bot")

    bind_by_adding(scene.tenant, scene.chat_id, scene.owner, bot_id=second["id"])

    assert ChatBinding.objects.get(chat_id=scene.chat_id).bot.telegram_id == second["id"]
    assert scene.group().bot_id == second["id"]
    spammer = scene.user("spammy")
    # The first bot no longer applies the rules; removing it leaves the group bound.
    first = scene.say(spammer, "a scam link")
    assert _untouched(scene, first, spammer)
    assert not group_unbind_on_bot_removed(
        tenant=scene.tenant, bot_id=scene.bot_id, chat_id=scene.chat_id
    )
    update = tg.send_message(second["id"], scene.chat_id, spammer["id"], "another scam")
    _process(_application(tg, SECOND_TOKEN), update)
    assert not scene.live(update["message"]["message_id"])
