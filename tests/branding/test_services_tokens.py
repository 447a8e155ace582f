"""Token onboarding against the sandbox Telegram: getMe decides, another tenant's bot is
refused without naming the tenant, the token is stored encrypted and never logged."""

from __future__ import annotations

import logging

import pytest

from branding.services.tokens import bot_onboard, placement_for
from config.errors import ServiceError
from history.models import Entry
from history.services import Actor
from tenancy.models import Bot
from tenancy.selectors import tenant_bots
from tests.branding.helpers import custom_token
from tests.helpers import tenant_bot_token

ACTOR = Actor.user(7301)


def test_a_token_telegram_knows_is_bound_encrypted_and_placed_by_plan(tg, tenant):
    token = custom_token(1)
    tg.add_bot(token, username="brand_one_bot")
    bot = bot_onboard(tenant=tenant, token=token, actor=ACTOR)
    assert (bot.telegram_id, bot.username, bot.tenant_id) == (800000001, "brand_one_bot", tenant.pk)
    stored = Bot.objects.get(telegram_id=800000001)
    assert token not in stored.token_encrypted and stored.token_encrypted
    assert (800000001, token) in tenant_bots(tenant=tenant)
    assert stored.placement == Bot.Placement.POOLED  # the "free" plan
    assert Entry.objects.filter(tenant_id=tenant.pk, action="bot.registered").exists()


def test_an_unknown_token_is_refused_as_telegram_refuses_it(tg, tenant, caplog):
    token = custom_token(2)  # never registered with the sandbox: getMe answers 401
    caplog.set_level(logging.INFO)  # python-telegram-bot logs its URLs (with the token) at DEBUG
    with pytest.raises(ServiceError) as refused:
        bot_onboard(tenant=tenant, token=token, actor=ACTOR)
    assert (refused.value.code, refused.value.status) == ("invalid_token", 400)
    assert refused.value.message == "Telegram does not accept this token"
    assert not Bot.objects.filter(telegram_id=800000002).exists()
    assert token.split(":")[1] not in caplog.text


def test_a_malformed_token_is_refused_before_asking_telegram(tg, tenant):
    with pytest.raises(ServiceError) as refused:
        bot_onboard(tenant=tenant, token="not-a-token", actor=ACTOR)
    assert refused.value.code == "invalid_bot_token"


def test_another_tenants_bot_is_refused_without_naming_the_tenant(tg, make_tenant):
    a, b = make_tenant("alpha-one"), make_tenant("bravo-one")
    token = tenant_bot_token(a)
    tg.add_bot(token, username="alpha_bot")
    with pytest.raises(ServiceError) as refused:
        bot_onboard(tenant=b, token=token, actor=ACTOR)
    assert (refused.value.code, refused.value.status) == ("bot_taken", 409)
    assert "alpha" not in refused.value.message
    assert Bot.objects.get(telegram_id=int(token.split(":")[0])).tenant_id == a.pk


def test_the_tenants_own_bot_is_taken_up_again(tg, tenant):
    token = tenant_bot_token(tenant)
    tg.add_bot(token, username="own_bot")
    bot = bot_onboard(tenant=tenant, token=token, actor=ACTOR)
    assert bot.tenant_id == tenant.pk and bot.username == "own_bot"


@pytest.mark.parametrize(
    ("plan", "placement"),
    [("free", "pooled"), ("pro", "pooled"), ("business", "isolated"), ("enterprise", "isolated")],
)
def test_placement_follows_the_plan(make_tenant, plan, placement):
    assert placement_for(tenant=make_tenant(plan=plan)) == placement


def test_the_isolated_plans_are_configuration(make_tenant, settings):
    settings.BOT_ISOLATED_PLANS = frozenset({"pro"})
    assert placement_for(tenant=make_tenant(plan="pro")) == "isolated"
    assert placement_for(tenant=make_tenant(plan="business")) == "pooled"
