"""``/kols`` in a bound group on the sandbox Telegram (``scene``): the group's admin who
manages settings gets the last 7 days per KOL; members are refused; outside a group it
says where to send it; a long list is cut to fit one message."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from sandbox.x import ManualClock
from tests.helpers import application_process
from tests.xfeed.helpers import clock_now, kol_add
from xfeed.handlers.common import NOT_ALLOWED, NOT_IN_GROUP
from xfeed.handlers.kols import MAX_LINES, kols_text
from xfeed.models import Kol
from xfeed.reports import Period, kol_report
from xfeed.services.kol_tracking import kol_track


@pytest.fixture(scope="module")
def kol_clock() -> ManualClock:
    return ManualClock(start=time.time() - 3600)  # posts of the last hour


def test_a_settings_manager_gets_the_week_per_kol(scene, kol_x, kol_clock):
    kol_x.add_account("alice")
    kol_x.add_account("fan")
    kol_add(scene.tenant, "alice", rate_amount=20_000_000, campaigns=["launch"])
    post_id = kol_x.post("alice", "gm #launch")["id"]
    kol_x.like("fan", post_id)
    kol_x.view_post(post_id, impressions=30)
    kol_track(tenant=scene.tenant, now=clock_now(kol_clock))

    [reply] = scene.say(scene.owner, "/kols")
    today = timezone.now().date()
    assert reply.splitlines() == [
        f"KOLs, {today - timedelta(days=6):%d %b} to {today:%d %b}:",
        "@alice: 1 posts, 1 engagements, 30 views, cost 20 USDT, 0.05 per USDT, growth +0",
    ]


def test_members_are_refused_and_private_chats_are_pointed_to_the_group(scene):
    member = scene.tg.add_user(7_300_001, "Max", username="max")
    scene.tg.set_member(scene.chat_id, member["id"], "member")
    assert scene.say(member, "/kols") == [NOT_ALLOWED]
    private = scene.tg.send_message(scene.bot_id, member["id"], member["id"], "/kols")
    application_process(scene.application, private)
    assert scene.tg.sent(scene.bot_id, member["id"])[-1]["text"] == NOT_IN_GROUP


def test_a_long_list_is_cut_to_fit_a_message(tenant):
    with tenant_context(tenant):
        for n in range(MAX_LINES + 5):
            Kol.objects.create(x_user_id=n + 1, username=f"kol{n:02d}")
    today = timezone.now().date()
    text = kols_text(kol_report(tenant=tenant, period=Period(today - timedelta(days=6), today)))
    assert len(text.splitlines()) == MAX_LINES + 2
    assert text.endswith("... and 5 more (full report in the Mini App)")
    assert len(text) < 4096
