"""KOL reports over a period of whole UTC days (``start`` to ``end``, both included): per
KOL and per campaign, posts, engagement, cost, engagement per cost and growth.

- **Posts**: the KOL's tracked posts created in the period (with ``campaign``: those
  tagged with it).
- **Engagement** of those posts: each post's latest snapshot taken before the period's
  end; likes, reposts, replies and quotes summed (``engagement`` is their sum);
  impressions summed over the posts X gave them for (null when none had them).
- **Cost**, in minor units of the KOL's currency:
  ``per_post``: rate x posts in the period;
  ``monthly``: rate x the calendar months the period overlaps while the KOL was active
  (from the day they were added to the day they were removed), each month prorated by
  days (15 of June's 30 days: half the rate), rounded half up once at the end;
  ``fixed``: the rate once, in the period holding the KOL's first campaign post (with
  ``campaign``: its first post of that campaign; a KOL without campaigns: their first
  post), so consecutive periods never count it twice.
  With ``campaign``, monthly and fixed KOLs count only if the campaign is one of theirs,
  with their whole fee (a fee is not split across campaigns).
- **Engagement per cost**: engagement per one whole unit of the currency (decimal
  string, null when the cost is 0).
- **Growth**: engagement gained between the first and the last snapshot taken in the
  period, summed over the posts with snapshots in it (whenever they were posted), and
  per day of the period.
- **Followers** (``KolFollowers``, one reading a day): ``followers`` is the last reading
  up to the period's end; ``follower_growth`` is that minus the last reading before the
  period (or, without one, the first reading in it). Null without readings. A campaign
  row sums its KOLs' (a KOL's audience counts for each campaign it runs).
- **Campaign rows**: per (campaign, currency), the sums of the KOL figures restricted to
  that campaign.

Money is integer minor units (``cost_minor``) plus a decimal string (``cost``); ratios
are decimal strings: never a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.db.models import Min
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from tenancy.models import Tenant
from wallet.currencies import amount_decimal, exponent_of
from xfeed.models import Kol, KolFollowers, KolPost, KolSnapshot

MAX_DAYS = 366
DEFAULT_DAYS = 30
RATIO = Decimal("0.01")
METRICS = ("likes", "reposts", "replies", "quotes")


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # included

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:  # excluded
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def period_parse(*, start: str | None, end: str | None, today: date) -> Period:
    """``from``/``to`` as ISO dates (defaults: the last 30 days up to ``today``); a
    ServiceError naming the field otherwise."""

    def day(value: str | None, name: str, default: date) -> date:
        if value in (None, ""):
            return default
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ServiceError(f"{name}: a date as YYYY-MM-DD", code="invalid") from None

    last = day(end, "to", today)
    first = day(start, "from", last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise ServiceError("to: on or after from", code="invalid")
    if (last - first).days + 1 > MAX_DAYS:
        raise ServiceError(f"to: a period of at most {MAX_DAYS} days", code="invalid")
    return Period(first, last)


@dataclass
class Figures:
    posts: int = 0
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    quotes: int = 0
    impressions: int | None = None
    growth: int = 0
    cost_minor: int = 0
    followers: int | None = None
    follower_growth: int | None = None

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes

    def add(self, other: Figures) -> None:
        for name in ("posts", *METRICS, "growth", "cost_minor"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("impressions", "followers", "follower_growth"):  # null: none known
            theirs = getattr(other, name)
            if theirs is not None:
                setattr(self, name, (getattr(self, name) or 0) + theirs)


@dataclass
class KolRow:
    kol_id: int
    username: str
    tier: str
    billing: str
    currency: str
    rate_minor: int
    is_active: bool
    figures: Figures


@dataclass
class CampaignRow:
    campaign: str
    currency: str
    kols: int
    figures: Figures = field(default_factory=Figures)


@dataclass
class KolReport:
    period: Period
    campaign: str | None
    kols: list[KolRow]
    campaigns: list[CampaignRow]


def ratio(numerator: int | Decimal, denominator: int | Decimal) -> str | None:
    if not denominator:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(RATIO))


def per_cost(figures: Figures, currency: str) -> str | None:
    """Engagement per one whole unit of ``currency``."""
    return ratio(figures.engagement * 10 ** exponent_of(currency), figures.cost_minor)


def money(amount: int, currency: str) -> str:
    return str(amount_decimal(amount, exponent_of(currency)))


def _months_overlapped(first: date, last: date) -> Fraction:
    """Calendar months between ``first`` and ``last`` (both included), by days."""
    total = Fraction(0)
    day = first
    while day <= last:
        month_end = (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        until = min(month_end, last)
        total += Fraction((until - day).days + 1, month_end.day)
        day = until + timedelta(days=1)
    return total


def _half_up(value: Fraction) -> int:
    return (2 * value.numerator + value.denominator) // (2 * value.denominator)


@dataclass(frozen=True)
class _Data:
    """What the report is computed from, loaded once for the period."""

    posts: list[dict[str, Any]]  # created in the period
    latest: dict[int, dict[str, Any]]  # post id → its latest snapshot before the end
    growth: dict[int, tuple[int, int, list[str]]]  # post id → (kol id, gain, campaigns)
    first_posts: dict[tuple[int, str], datetime]  # (kol id, tag or "" for any) → first
    followers: dict[int, tuple[int, int]]  # kol id → (readings at the start, at the end)


def _load(period: Period) -> _Data:
    posts: list[dict[str, Any]] = [
        dict(row)
        for row in KolPost.objects.filter(
            created_at__gte=period.start_at, created_at__lt=period.end_at
        ).values("id", "kol_id", "campaigns")
    ]
    latest = {
        row["post_id"]: row
        for row in KolSnapshot.objects.filter(
            post_id__in=[p["id"] for p in posts], taken_at__lt=period.end_at
        )
        .order_by("post_id", "-taken_at")
        .distinct("post_id")
        .values("post_id", *METRICS, "impressions")
    }
    firsts: dict[int, int] = {}
    growth: dict[int, tuple[int, int, list[str]]] = {}
    for row in (
        KolSnapshot.objects.filter(taken_at__gte=period.start_at, taken_at__lt=period.end_at)
        .order_by("post_id", "taken_at")
        .values("post_id", "post__kol_id", "post__campaigns", *METRICS)
    ):
        engagement = sum(row[m] for m in METRICS)
        first = firsts.setdefault(row["post_id"], engagement)
        growth[row["post_id"]] = (row["post__kol_id"], engagement - first, row["post__campaigns"])
    first_posts: dict[tuple[int, str], datetime] = {}
    for row in (
        KolPost.objects.filter(kol__billing=Kol.Billing.FIXED)
        .values("kol_id", "campaigns")
        .annotate(first=Min("created_at"))
    ):
        keys = [""] if not row["campaigns"] else ["*", *row["campaigns"]]
        for key in keys:
            known = first_posts.get((row["kol_id"], key))
            if known is None or row["first"] < known:
                first_posts[(row["kol_id"], key)] = row["first"]
    return _Data(posts, latest, growth, first_posts, _followers(period))


def _followers(period: Period) -> dict[int, tuple[int, int]]:
    """Per KOL with readings up to the end: (the last before the period or else the first
    in it, the last up to its end)."""
    found: dict[int, tuple[int, int]] = {}
    for row in KolFollowers.objects.filter(day__lte=period.end).order_by("kol_id", "day"):
        start, _ = found.get(row.kol_id, (row.followers, row.followers))
        if row.day < period.start:
            start = row.followers
        found[row.kol_id] = (start, row.followers)
    return found


def _cost(kol: Kol, figures: Figures, period: Period, data: _Data, campaign: str | None) -> int:
    if kol.billing == Kol.Billing.PER_POST:
        return kol.rate_amount * figures.posts
    if campaign is not None and campaign not in kol.campaigns:
        return 0
    if kol.billing == Kol.Billing.MONTHLY:
        active_to = period.end if kol.is_active else kol.updated_at.astimezone(UTC).date()
        first = max(period.start, kol.created_at.astimezone(UTC).date())
        last = min(period.end, active_to)
        if last < first:
            return 0
        return _half_up(kol.rate_amount * _months_overlapped(first, last))
    key = campaign if campaign is not None else ("*" if kol.campaigns else "")
    first_post = data.first_posts.get((kol.pk, key))
    in_period = first_post is not None and period.start_at <= first_post < period.end_at
    return kol.rate_amount if in_period else 0


def _figures(kol: Kol, period: Period, data: _Data, campaign: str | None) -> Figures:
    figures = Figures()
    for post in data.posts:
        if post["kol_id"] != kol.pk or (campaign is not None and campaign not in post["campaigns"]):
            continue
        figures.posts += 1
        snapshot = data.latest.get(post["id"])
        if snapshot is None:
            continue
        for name in METRICS:
            setattr(figures, name, getattr(figures, name) + snapshot[name])
        if snapshot["impressions"] is not None:
            figures.impressions = (figures.impressions or 0) + snapshot["impressions"]
    figures.growth = sum(
        gain
        for kol_id, gain, tags in data.growth.values()
        if kol_id == kol.pk and (campaign is None or campaign in tags)
    )
    figures.cost_minor = _cost(kol, figures, period, data, campaign)
    if kol.pk in data.followers:
        start, end = data.followers[kol.pk]
        figures.followers, figures.follower_growth = end, end - start
    return figures


def kol_report(*, tenant: Tenant, period: Period, campaign: str | None = None) -> KolReport:
    """The report of ``tenant``'s KOLs over ``period`` (see the module's docstring): the
    KOLs active in it (with ``campaign``: those running it or with posts for it)."""
    with tenant_context(tenant):
        data = _load(period)
        kols = [
            kol
            for kol in Kol.objects.order_by("username", "id")
            if kol.is_active or kol.updated_at >= period.start_at
        ]
        rows: list[KolRow] = []
        by_campaign: dict[tuple[str, str], CampaignRow] = {}
        for kol in kols:
            own = _figures(kol, period, data, campaign)
            if campaign is not None and campaign not in kol.campaigns and not own.posts:
                continue
            rows.append(
                KolRow(
                    kol.pk,
                    kol.username,
                    kol.tier,
                    kol.billing,
                    kol.rate_currency,
                    kol.rate_amount,
                    kol.is_active,
                    own,
                )
            )
            tagged = {
                tag for post in data.posts if post["kol_id"] == kol.pk for tag in post["campaigns"]
            }
            for tag in sorted(set(kol.campaigns) | tagged):
                if campaign is not None and tag != campaign:
                    continue
                part = own if tag == campaign else _figures(kol, period, data, tag)
                row = by_campaign.setdefault(
                    (tag, kol.rate_currency), CampaignRow(tag, kol.rate_currency, 0)
                )
                row.kols += 1
                row.figures.add(replace(part))
    return KolReport(period, campaign, rows, [by_campaign[key] for key in sorted(by_campaign)])
