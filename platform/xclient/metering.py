"""What each tenant's X reads cost, at X's pay-per-use prices (``X_PRICES_MICROS``, USD
millionths per resource read; X's published rates by default), counted as X bills them:
a post returned more than once on the same UTC day to the same X app is billed once, to
the tenant whose read returned it first, and a post read again the next day is billed
again. A tenant's monthly cap (``Budget``) pauses its reads once reached
(``usage_allows``); its admins are told at 80% and at 100%."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F

import history.services as history
from xclient.models import Budget, Usage
from xclient.notices import budget_alert_notify

if TYPE_CHECKING:
    from tenancy.models import Tenant

# docs.x.com/x-api/getting-started/pricing: Posts read $0.005, User read $0.010 per
# resource; since 2026-04-20 an account's reads of its own data with its own token
# (timeline, mentions, likes, followers, following, ...) are "owned reads" at $0.001.
DEFAULT_PRICES_MICROS = {"post_read": 5_000, "user_read": 10_000, "owned_read": 1_000}
ALERTS = (80, 100)  # % of the monthly cap

_BILL_NEW_POSTS = """
INSERT INTO public.xclient_postread (app, day, post_id, tenant_id)
SELECT %s, %s, p, %s FROM unnest(%s::bigint[]) AS p
ON CONFLICT (app, day, post_id) DO NOTHING
RETURNING post_id
"""


@dataclass(frozen=True)
class Charged:
    """What one charge billed, and where the tenant's month stands."""

    posts_billed: int
    cost_micros: int
    month_cost_micros: int
    cap_micros: int | None
    refused: bool = False  # over the room it was given: nothing billed

    @property
    def paused(self) -> bool:
        return self.cap_micros is not None and self.month_cost_micros >= self.cap_micros


def prices() -> dict[str, int]:
    return {**DEFAULT_PRICES_MICROS, **(getattr(settings, "X_PRICES_MICROS", None) or {})}


def _month(day: date) -> date:
    return day.replace(day=1)


def cap_of(tenant: Tenant) -> int | None:
    budget = Budget.objects.filter(tenant=tenant).first()
    return budget.monthly_cap_micros if budget is not None else None


def usage_charge(
    *,
    tenant: Tenant,
    app: str,
    post_ids: Iterable[int] = (),
    user_reads: int = 0,
    owned: bool = False,
    now: datetime | None = None,
    room: int | None = None,
) -> Charged:
    """Bill what a read of ``tenant`` through X app ``app`` returned: the posts not yet
    billed to ``app`` today, and ``user_reads`` user objects; ``owned``: an account's read
    of its own data, every resource at the owned-read price. With ``room`` (what the cap
    leaves, from ``usage_guard``) a charge that would not fit bills nothing and says
    ``refused``: the caller drops what it was for."""
    now = now or datetime.now(UTC)
    day = now.astimezone(UTC).date()
    unique = sorted(set(post_ids))
    rate = prices()
    with transaction.atomic():
        billed = 0
        if unique:
            with connection.cursor() as cursor:
                cursor.execute(_BILL_NEW_POSTS, [app, day, tenant.pk, unique])
                billed = len(cursor.fetchall())
        if owned:
            counts = {"owned_reads": billed + user_reads}
            cost = (billed + user_reads) * rate["owned_read"]
        else:
            counts = {"post_reads": billed, "user_reads": user_reads}
            cost = billed * rate["post_read"] + user_reads * rate["user_read"]
        if room is not None and cost > room:
            transaction.set_rollback(True)  # the day's PostRead rows too; no more queries
            return Charged(0, 0, 0, None, refused=True)
        usage, _ = Usage.objects.get_or_create(tenant=tenant, month=_month(day))
        Usage.objects.filter(pk=usage.pk).update(
            cost_micros=F("cost_micros") + cost,
            **{field: F(field) + n for field, n in counts.items()},
        )
        usage = Usage.objects.select_for_update().get(pk=usage.pk)
        cap = cap_of(tenant)
        _alert_if_due(tenant, usage, cap)
    return Charged(billed, cost, usage.cost_micros, cap)


def _spent(tenant: Tenant, day: date) -> int:
    usage = Usage.objects.filter(tenant=tenant, month=_month(day)).first()
    return usage.cost_micros if usage is not None else 0


@contextmanager
def usage_guard(*, tenant: Tenant, now: datetime | None = None) -> Iterator[int | None]:
    """What ``tenant``'s cap leaves this month, in micros (None: no cap), held still while
    the caller reads and charges: a capped tenant's reads and charges take its lock one
    at a time (a session-level advisory lock, not a transaction: no row stays locked
    across a call to X). Checking the worst a read can cost against this room before the
    read, and charging with ``room`` after, keeps the month within the cap."""
    cap = cap_of(tenant)
    if cap is None:
        yield None
        return
    key = f"xclient.cap:{tenant.pk}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
    try:
        day = (now or datetime.now(UTC)).astimezone(UTC).date()
        yield max(cap - _spent(tenant, day), 0)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def usage_room(*, tenant: Tenant, now: datetime | None = None) -> int | None:
    """What ``tenant``'s cap leaves this month, in micros (None: no cap); a snapshot, for
    planning (``usage_guard`` holds it still for a read and its charge)."""
    cap = cap_of(tenant)
    if cap is None:
        return None
    day = (now or datetime.now(UTC)).astimezone(UTC).date()
    return max(cap - _spent(tenant, day), 0)


def usage_allows(*, tenant: Tenant, now: datetime | None = None) -> bool:
    """Whether ``tenant`` may read this month: no cap, or spent below it."""
    cap = cap_of(tenant)
    if cap is None:
        return True
    day = (now or datetime.now(UTC)).astimezone(UTC).date()
    usage = Usage.objects.filter(tenant=tenant, month=_month(day)).first()
    return usage is None or usage.cost_micros < cap


def _alert_if_due(tenant: Tenant, usage: Usage, cap: int | None) -> None:
    if cap is None or cap <= 0:
        return
    reached = max((level for level in ALERTS if usage.cost_micros * 100 >= cap * level), default=0)
    if reached <= usage.alerted:
        return
    usage.alerted = reached
    usage.save(update_fields=["alerted"])
    history.record(
        action="xclient.budget_alert",
        tenant=tenant,
        target=("usage", usage.pk),
        data={"percent": reached, "cost_micros": usage.cost_micros, "cap_micros": cap},
    )
    budget_alert_notify(tenant=tenant, usage=usage, percent=reached, cap_micros=cap)


def budget_set(
    *, tenant: Tenant, monthly_cap_micros: int | None, actor: history.Actor, request: Any = None
) -> Budget:
    """Set (or, with None, lift) the tenant's monthly cap on X reads."""
    if monthly_cap_micros is not None and monthly_cap_micros < 0:
        raise ValueError("a cap is zero or more")
    with transaction.atomic():
        budget, _ = Budget.objects.update_or_create(
            tenant=tenant, defaults={"monthly_cap_micros": monthly_cap_micros}
        )
        history.record(
            action="xclient.budget_set",
            actor=actor,
            tenant=tenant,
            target=("budget", budget.pk),
            data={"monthly_cap_micros": monthly_cap_micros},
            request=request,
        )
    return budget
