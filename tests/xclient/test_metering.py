"""The cost meter: X's prices per resource, a post billed once per X app and UTC day (to
the tenant that read it first), a monthly cap that pauses reads, and the settings
managers told at 80% and at 100%, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from history.models import Entry as HistoryEntry
from history.services import Actor
from notifications.models import OutboxMessage
from xclient.metering import budget_set, usage_allows, usage_charge, usage_guard
from xclient.models import Usage

DAY = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
NEXT_DAY = DAY + timedelta(hours=1)  # 00:30 UTC: another billing day
POST, USER = 5_000, 10_000  # USD millionths: X's $0.005 per post, $0.010 per user


def test_a_post_is_billed_once_per_app_and_utc_day(make_tenant):
    a, b = make_tenant(), make_tenant()
    first = usage_charge(tenant=a, app="platform", post_ids=[1, 2, 3, 3], now=DAY)
    assert (first.posts_billed, first.cost_micros) == (3, 3 * POST)
    again = usage_charge(tenant=a, app="platform", post_ids=[2, 3, 4], now=DAY)
    assert (again.posts_billed, again.cost_micros) == (1, POST)
    # Another tenant on the same X app the same day: X bills nothing more.
    assert usage_charge(tenant=b, app="platform", post_ids=[1, 4], now=DAY).posts_billed == 0
    # Its own X app is billed apart; the next UTC day is a new day.
    assert usage_charge(tenant=b, app=f"t{b.pk}", post_ids=[1], now=DAY).posts_billed == 1
    assert usage_charge(tenant=a, app="platform", post_ids=[1, 2], now=NEXT_DAY).posts_billed == 2
    usage = Usage.objects.get(tenant=a, month=DAY.date().replace(day=1))
    assert (usage.post_reads, usage.cost_micros) == (6, 6 * POST)


def test_user_reads_are_priced_and_prices_are_configuration(tenant, settings):
    assert usage_charge(tenant=tenant, app="platform", user_reads=3, now=DAY).cost_micros == (
        3 * USER
    )
    settings.X_PRICES_MICROS = {"post_read": 7}
    charged = usage_charge(tenant=tenant, app="platform", post_ids=[9], user_reads=1, now=DAY)
    assert charged.cost_micros == 7 + USER


def test_the_cap_pauses_reads_and_admins_hear_at_80_and_100_percent_once(tenant, user_with_role):
    owner = user_with_role(tenant, "owner", user_id=9101, username="owner")
    moderator = user_with_role(tenant, "moderator", user_id=9102, username="mod")
    budget_set(tenant=tenant, monthly_cap_micros=10 * POST, actor=Actor.user(owner))
    assert usage_allows(tenant=tenant, now=DAY)

    def alerts() -> list[tuple[int, str]]:
        return sorted(
            OutboxMessage.objects.filter(event__startswith="xbudget.").values_list(
                "chat_id", "event"
            )
        )

    usage_charge(tenant=tenant, app="platform", post_ids=range(7), now=DAY)
    assert alerts() == []
    usage_charge(tenant=tenant, app="platform", post_ids=range(8), now=DAY)  # 8 of 10
    assert alerts() == [(owner.telegram_id, "xbudget.alert_80")]
    usage_charge(tenant=tenant, app="platform", post_ids=range(9), now=DAY)  # no new alert
    assert len(alerts()) == 1
    assert usage_allows(tenant=tenant, now=DAY)
    charged = usage_charge(tenant=tenant, app="platform", post_ids=range(12), now=DAY)
    assert charged.paused and not usage_allows(tenant=tenant, now=DAY)
    assert alerts() == [
        (owner.telegram_id, "xbudget.alert_100"),
        (owner.telegram_id, "xbudget.alert_80"),
    ]
    assert moderator.telegram_id not in [chat for chat, _ in alerts()]
    recorded = HistoryEntry.objects.filter(action="xclient.budget_alert", tenant_id=tenant.pk)
    assert sorted(e.data["percent"] for e in recorded) == [80, 100]
    # A new month starts unpaused; lifting the cap unpauses at once.
    assert usage_allows(tenant=tenant, now=DAY + timedelta(days=31))
    budget_set(tenant=tenant, monthly_cap_micros=None, actor=Actor.user(owner))
    assert usage_allows(tenant=tenant, now=DAY)


def test_a_negative_cap_is_refused(tenant):
    with pytest.raises(ValueError, match="zero or more"):
        budget_set(tenant=tenant, monthly_cap_micros=-1, actor=Actor.system())


def test_owned_reads_are_priced_apart_and_posts_still_billed_once_a_day(tenant, settings):
    settings.X_PRICES_MICROS = {"owned_read": 700}
    first = usage_charge(tenant=tenant, app="platform", post_ids=[1, 2], user_reads=1, owned=True)
    again = usage_charge(tenant=tenant, app="platform", post_ids=[2, 3], owned=True)
    assert (first.cost_micros, again.cost_micros) == (3 * 700, 700)
    usage = Usage.objects.get(tenant=tenant)
    assert (usage.owned_reads, usage.post_reads, usage.user_reads) == (4, 0, 0)
    assert usage.cost_micros == 4 * 700


def test_a_charge_past_the_room_bills_nothing_and_keeps_the_post_unbilled(tenant):
    budget_set(tenant=tenant, monthly_cap_micros=20_000, actor=Actor.system())
    with usage_guard(tenant=tenant) as room:
        assert room == 20_000
        refused = usage_charge(tenant=tenant, app="platform", post_ids=[7], user_reads=2, room=room)
    assert refused.refused and not Usage.objects.filter(tenant=tenant).exists()
    with usage_guard(tenant=tenant) as room:  # the post was not counted as billed today
        fits = usage_charge(tenant=tenant, app="platform", post_ids=[7], user_reads=1, room=room)
    assert (fits.refused, fits.cost_micros, fits.month_cost_micros) == (False, 15_000, 15_000)
    with usage_guard(tenant=tenant) as room:
        assert room == 5_000
    budget_set(tenant=tenant, monthly_cap_micros=None, actor=Actor.system())
    with usage_guard(tenant=tenant) as room:
        assert room is None
