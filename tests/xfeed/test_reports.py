"""KOL reports over a period, from tracked posts and snapshots written as tracking writes
them: posts, latest engagement, cost by billing (per post, monthly prorated by days,
fixed once), engagement per cost, growth, campaign rows per currency; money in integer
minor units."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from xfeed.models import Kol, KolFollowers, KolPost, KolSnapshot
from xfeed.reports import Period, kol_report, money, per_cost, period_parse, ratio

JUNE = Period(date(2026, 6, 1), date(2026, 6, 30))
USDT = 1_000_000


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def kol(username: str, *, added: str, removed: str | None = None, **fields) -> Kol:
    row = Kol.objects.create(x_user_id=abs(hash(username)) % 10**12, username=username, **fields)
    Kol.objects.filter(pk=row.pk).update(created_at=at(added))
    if removed:
        Kol.objects.filter(pk=row.pk).update(is_active=False, updated_at=at(removed))
    row.refresh_from_db()
    return row


_ids = iter(range(1, 10**6))


def post(owner: Kol, day: str, campaigns=(), snapshots=()) -> KolPost:
    created = at(day, 9)
    row = KolPost.objects.create(
        kol=owner,
        post_id=next(_ids),
        text="",
        campaigns=list(campaigns),
        created_at=created,
        tracked_until=created + timedelta(days=7),
    )
    for when, likes, reposts, impressions in snapshots:
        KolSnapshot.objects.create(
            post=row,
            taken_at=at(when),
            likes=likes,
            reposts=reposts,
            replies=0,
            quotes=0,
            impressions=impressions,
        )
    return row


@pytest.fixture
def kols(tenant):
    with tenant_context(tenant):
        alice = kol("alice", added="2026-05-01", rate_amount=10 * USDT, campaigns=["launch"])
        post(
            alice,
            "2026-06-02",
            ["launch"],
            [("2026-06-02", 1, 0, None), ("2026-06-03", 5, 1, 100), ("2026-07-05", 50, 9, 900)],
        )
        post(alice, "2026-06-10", [], [("2026-06-11", 2, 0, None)])
        post(
            alice,
            "2026-05-28",
            ["launch"],
            [("2026-05-29", 10, 0, None), ("2026-06-01", 12, 0, None), ("2026-06-04", 15, 0, None)],
        )
        bob = kol(
            "bob",
            added="2026-06-16",
            billing="monthly",
            rate_amount=30 * USDT,
            campaigns=["launch"],
        )
        carol = kol(
            "carol",
            added="2026-05-01",
            billing="fixed",
            rate_amount=500,
            rate_currency="XTR",
            campaigns=["launch"],
        )
        post(carol, "2026-06-20", ["launch"], [("2026-06-21", 4, 0, 7)])
        post(carol, "2026-07-02", ["launch"], [("2026-07-03", 8, 0, 9)])
        kol("dave", added="2026-04-01", removed="2026-05-20", rate_amount=USDT)
    return {"alice": alice, "bob": bob, "carol": carol}


def by_name(report):
    return {row.username: row for row in report.kols}


def test_a_month_per_kol(tenant, kols):
    rows = by_name(kol_report(tenant=tenant, period=JUNE))
    assert set(rows) == {"alice", "bob", "carol"}  # dave was removed before June
    alice = rows["alice"].figures
    # June's posts; each one's latest snapshot before July (not the one of 5 July).
    assert (alice.posts, alice.likes, alice.reposts, alice.engagement) == (2, 7, 1, 8)
    assert alice.impressions == 100  # only the posts X gave impressions for
    assert alice.cost_minor == 20 * USDT  # per post: 2 x 10 USDT
    assert per_cost(alice, "USDT") == "0.40"  # 8 engagements for 20 USDT
    # Growth: +5 on the 2 June post, +3 on the May post (its June snapshots), 0 on the
    # post with one snapshot.
    assert alice.growth == 8
    assert ratio(alice.growth, JUNE.days) == "0.27"
    assert rows["bob"].figures.cost_minor == 15 * USDT  # monthly, added on 16 June: half
    assert per_cost(rows["bob"].figures, "USDT") == "0.00"
    assert rows["carol"].figures.cost_minor == 500  # fixed: its first campaign post is in June
    assert rows["carol"].figures.impressions == 7


def test_fixed_fees_count_once_and_monthly_fees_prorate_across_months(tenant, kols):
    july = kol_report(tenant=tenant, period=Period(date(2026, 7, 1), date(2026, 7, 31)))
    assert by_name(july)["carol"].figures.cost_minor == 0  # paid in June
    assert by_name(july)["carol"].figures.posts == 1
    spanning = Period(date(2026, 6, 16), date(2026, 7, 15))
    # 15 of June's 30 days and 15 of July's 31: 30 x (1/2 + 15/31) USDT, rounded once.
    bob = by_name(kol_report(tenant=tenant, period=spanning))["bob"]
    assert bob.figures.cost_minor == 29_516_129
    assert money(bob.figures.cost_minor, "USDT") == "29.516129"


def test_a_campaign_counts_its_posts_and_the_fees_of_its_kols(tenant, kols):
    report = kol_report(tenant=tenant, period=JUNE, campaign="launch")
    alice = by_name(report)["alice"].figures
    assert (alice.posts, alice.engagement, alice.impressions) == (1, 6, 100)
    assert alice.cost_minor == 10 * USDT
    assert alice.growth == 8  # both launch posts had June snapshots
    rows = {(row.campaign, row.currency): row for row in report.campaigns}
    assert set(rows) == {("launch", "USDT"), ("launch", "XTR")}
    usdt = rows[("launch", "USDT")]
    assert (usdt.kols, usdt.figures.posts, usdt.figures.cost_minor) == (2, 1, 25 * USDT)
    assert rows[("launch", "XTR")].figures.cost_minor == 500
    assert kol_report(tenant=tenant, period=JUNE, campaign="other").kols == []


def test_the_whole_report_has_a_row_per_campaign_and_currency(tenant, kols):
    report = kol_report(tenant=tenant, period=JUNE)
    assert [(row.campaign, row.currency, row.kols) for row in report.campaigns] == [
        ("launch", "USDT", 2),
        ("launch", "XTR", 1),
    ]


def test_follower_growth_runs_from_the_last_reading_before_the_period_to_the_last_in_it(
    tenant, kols
):
    with tenant_context(tenant):
        for who, day, followers in [
            ("alice", "2026-05-30", 1000),
            ("alice", "2026-05-31", 1010),  # the last before June: where June starts
            ("alice", "2026-06-15", 1100),
            ("alice", "2026-06-30", 1060),  # the end
            ("alice", "2026-07-01", 5000),  # after the period
            ("bob", "2026-06-20", 40),  # no reading before June: from its first
            ("bob", "2026-06-25", 55),
        ]:
            KolFollowers.objects.create(
                kol=kols[who], day=date.fromisoformat(day), followers=followers, taken_at=at(day)
            )
    report = kol_report(tenant=tenant, period=JUNE)
    rows = by_name(report)
    assert (rows["alice"].figures.followers, rows["alice"].figures.follower_growth) == (1060, 50)
    assert (rows["bob"].figures.followers, rows["bob"].figures.follower_growth) == (55, 15)
    assert (rows["carol"].figures.followers, rows["carol"].figures.follower_growth) == (None, None)
    usdt = {(r.campaign, r.currency): r for r in report.campaigns}[("launch", "USDT")]
    assert (usdt.figures.followers, usdt.figures.follower_growth) == (1115, 65)  # alice + bob
    may = kol_report(tenant=tenant, period=Period(date(2026, 5, 1), date(2026, 5, 31)))
    assert by_name(may)["alice"].figures.follower_growth == 10


def test_periods_are_parsed_naming_the_field():
    today = date(2026, 6, 30)
    assert period_parse(start=None, end=None, today=today) == JUNE
    assert period_parse(start="2026-06-01", end="2026-06-01", today=today).days == 1
    for start, end, field in [
        ("june", None, "from"),
        (None, "2026-13-01", "to"),
        ("2026-06-02", "2026-06-01", "to"),
        ("2025-01-01", "2026-06-01", "to"),
    ]:
        with pytest.raises(ServiceError) as bad:
            period_parse(start=start, end=end, today=today)
        assert bad.value.status == 400 and bad.value.message.startswith(f"{field}:")
