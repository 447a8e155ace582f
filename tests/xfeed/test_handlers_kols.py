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
    assert text.endswith("... and 5 more (the full report: the API)")
    assert len(text) < 4096


def test_kol_adds_and_updates_and_unkol_stops_tracking(scene, kol_x):
    kol_x.add_account("alice")
    [added] = scene.say(scene.owner, "/kol @alice macro 250 USDT per_post #launch #Airdrop")
    assert added == "Added KOL @alice (macro, 250 USDT per_post, #launch #airdrop)."
    with tenant_context(scene.tenant):
        kol = Kol.objects.get(username="alice")
    assert (kol.tier, kol.rate_amount, kol.rate_currency) == ("macro", 250_000_000, "USDT")
    # Words not named keep their value: a new rate only.
    [updated] = scene.say(scene.owner, "/kol alice 1.5TON monthly")
    assert updated == "Updated KOL @alice (macro, 1.5 TON monthly, #launch #airdrop)."
    with tenant_context(scene.tenant):
        kol.refresh_from_db()
    assert (kol.rate_amount, kol.rate_currency, kol.billing) == (1_500_000_000, "TON", "monthly")

    assert scene.say(scene.owner, "/unkol @alice") == ["Stopped tracking KOL @alice."]
    with tenant_context(scene.tenant):
        assert not Kol.objects.get(pk=kol.pk).is_active
    [again] = scene.say(scene.owner, "/unkol @alice")
    assert again == "Could not remove KOL @alice: username: @alice is not a KOL here."


@pytest.mark.parametrize(
    ("words", "field"),
    [
        ("@alice legendary", "options"),
        ("@alice 250", "rate_currency"),
        ("@alice 250 DOGE", "rate_currency"),
        ("@alice 0.0000001 USDT", "rate_amount"),
        ("@nobody_at_all", "username"),
    ],
)
def test_kol_errors_name_the_field_and_save_nothing(scene, kol_x, words, field):
    kol_x.add_account("alice")
    [reply] = scene.say(scene.owner, f"/kol {words}")
    assert reply.startswith(f"Could not set KOL {words.split()[0]}: {field}: "), reply
    with tenant_context(scene.tenant):
        assert not Kol.objects.exists()


def test_members_cannot_set_kols(scene, kol_x):
    kol_x.add_account("alice")
    member = scene.tg.add_user(7_300_002, "Mia", username="mia")
    scene.tg.set_member(scene.chat_id, member["id"], "member")
    assert scene.say(member, "/kol @alice") == [NOT_ALLOWED]
    assert scene.say(member, "/unkol @alice") == [NOT_ALLOWED]
    with tenant_context(scene.tenant):
        assert not Kol.objects.exists()
