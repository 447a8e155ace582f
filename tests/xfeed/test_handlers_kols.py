"""``/kols`` in a bound group on the sandbox Telegram: a settings manager gets the last 7
days per KOL; anyone else is refused; outside a group it says how to use it."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from telegram.request import HTTPXRequest

from botruntime.outgoing import ssl_context
from community.services import group_bind_on_bot_added
from sandbox.x import ManualClock
from tests.helpers import application_process, sandbox_application, tenant_bot_token
from tests.xfeed.helpers import clock_now, kol_add
from xfeed.handlers.kols import MAX_LINES, kols_text
from xfeed.models import Kol
from xfeed.reports import Period, kol_report
from xfeed.services.kol_tracking import kol_track
from xfeed.telegram import handlers

_ids = itertools.count(1)


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock(start=time.time() - 3600)  # posts of the last hour


@pytest.fixture
def group(make_tenant, tg):
    """(tenant, its bot's id, a bound supergroup, its owner) on the sandbox Telegram."""
    n = next(_ids)
    owner = tg.add_user(7_100_000 + n, "Olga", username=f"olga{n}")
    tenant = make_tenant(owner_telegram_id=owner["id"])
    bot = tg.add_bot(tenant_bot_token(tenant), username=f"kols{n}_bot")
    chat_id = -1_007_100_000_000 - n
    tg.add_group(chat_id, title="Fans")
    tg.set_member(chat_id, owner["id"], "creator")
    tg.set_member(chat_id, bot["id"], "administrator")
    group_bind_on_bot_added(
        tenant=tenant,
        bot_id=bot["id"],
        chat_id=chat_id,
        title="Fans",
        added_by_telegram_id=owner["id"],
    )
    return tenant, bot["id"], chat_id, owner


def say(tg, tenant, bot_id: int, chat_id: int, user: dict, text: str) -> str:
    """``user`` says ``text`` in the chat; the bot (xfeed's handlers) answers; its reply."""
    update = tg.send_message(bot_id, chat_id, user["id"], text)
    request = HTTPXRequest(httpx_kwargs={"verify": ssl_context()})
    application = sandbox_application(tg, tenant_bot_token(tenant), handlers(), request=request)
    application_process(application, update)
    return tg.sent(bot_id, chat_id)[-1]["text"]


def test_a_settings_manager_gets_the_week_per_kol(group, tg, kol_x, kol_clock):
    tenant, bot_id, chat_id, owner = group
    kol_x.add_account("alice")
    kol_x.add_account("fan")
    kol_add(tenant, "alice", rate_amount=20_000_000, campaigns=["launch"])
    post_id = kol_x.post("alice", "gm #launch")["id"]
    kol_x.like("fan", post_id)
    kol_x.view_post(post_id, impressions=30)
    kol_track(tenant=tenant, now=clock_now(kol_clock))

    reply = say(tg, tenant, bot_id, chat_id, owner, "/kols")
    today = timezone.now().date()
    assert reply.splitlines() == [
        f"KOLs, {today - timedelta(days=6):%d %b} to {today:%d %b}:",
        "@alice: 1 posts, 1 engagements, 30 views, cost 20 USDT, 0.05 per USDT, growth +0",
    ]


def test_others_are_refused_and_private_chats_get_the_usage(group, tg, kol_x):
    tenant, bot_id, chat_id, _ = group
    member = tg.add_user(7_200_000 + next(_ids), "Max", username="max")
    tg.set_member(chat_id, member["id"], "member")
    reply = say(tg, tenant, bot_id, chat_id, member, "/kols")
    assert reply == "Only this community's settings managers can see its KOL report."
    private = tg.send_message(bot_id, member["id"], member["id"], "/kols")
    request = HTTPXRequest(httpx_kwargs={"verify": ssl_context()})
    application_process(
        sandbox_application(tg, tenant_bot_token(tenant), handlers(), request=request), private
    )
    assert tg.sent(bot_id, member["id"])[-1]["text"].startswith("Use /kols in a group")


def test_a_long_list_is_cut_to_fit_a_message(tenant):
    with tenant_context(tenant):
        for n in range(MAX_LINES + 5):
            Kol.objects.create(x_user_id=n + 1, username=f"kol{n:02d}")
    today = timezone.now().date()
    report = kol_report(tenant=tenant, period=Period(today - timedelta(days=6), today))
    text = kols_text(report)
    assert len(text.splitlines()) == MAX_LINES + 2
    assert text.endswith("... and 5 more (full report in the Mini App)")
    assert len(text) < 4096
