"""The rate-limit budget every X request goes through (``budget_take`` before it,
``budget_observe`` after it), shared by every process through PostgreSQL: a window's row
is locked while a request is counted, so no two processes spend the same slot.

Per credential and endpoint, X allows ``limit`` requests per 15-minute window. Priorities
keep headroom for what matters most: raid validation may use the whole window, tweet
forwarding 90% of it, live mentions 75%, KOL metrics 50% (``X_PRIORITY_SHARES``). On a
credential several tenants use (the platform's app token), each tenant gets at most an
equal part of what its priority may use, among the tenants active in this window or the
previous one, so one busy tenant cannot starve the others. X's own answer has the last
word: its rate-limit headers correct the count, a 429 blocks the window until X's reset,
and server errors back off exponentially (1 s, 2 s, 4 s ... up to a window), so a storm
of errors never turns into a storm of requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction

from xclient.limits import LIMITS, limit_of
from xclient.models import Priority, RateWindow, TenantShare

if TYPE_CHECKING:
    from collections.abc import Mapping

    from tenancy.models import Tenant

DEFAULT_SHARES = {
    Priority.VALIDATION: 1.0,
    Priority.FORWARDING: 0.9,
    Priority.MENTIONS: 0.75,
    Priority.KOL_METRICS: 0.5,
}
MAX_BACKOFF_S = 15 * 60


@dataclass(frozen=True)
class Slot:
    """``granted``: send now. Otherwise not before ``retry_at``, for ``reason``
    (``blocked``: X said wait; ``window_full``: this priority's part is spent;
    ``tenant_share``: this tenant's part is)."""

    granted: bool
    retry_at: datetime | None = None
    reason: str = ""


def _share(priority: int) -> float:
    shares = getattr(settings, "X_PRIORITY_SHARES", None) or DEFAULT_SHARES
    return float(shares[Priority(priority)])


def _window(credential: str, endpoint: str, *, user: bool, now: datetime) -> RateWindow:
    """The locked row of (credential, endpoint), made on first use, its window renewed
    when the last one ended."""
    limit = limit_of(endpoint, user=user)
    window_s = LIMITS[endpoint].window_s
    RateWindow.objects.get_or_create(
        credential=credential,
        endpoint=endpoint,
        defaults={"limit": limit, "resets_at": now + timedelta(seconds=window_s)},
    )
    row = RateWindow.objects.select_for_update().get(credential=credential, endpoint=endpoint)
    if row.resets_at <= now:
        row.used, row.resets_at = 0, now + timedelta(seconds=window_s)
    return row


def budget_take(
    *,
    credential: str,
    endpoint: str,
    user: bool = False,
    priority: int,
    tenant: Tenant | None = None,
    shared: bool = False,
    now: datetime | None = None,
) -> Slot:
    """Count one request of ``priority`` on (``credential``, ``endpoint``) if the budget
    allows it now; ``shared``: the credential serves several tenants, ``tenant`` asks."""
    now = now or datetime.now(UTC)
    with transaction.atomic():
        row = _window(credential, endpoint, user=user, now=now)
        if row.blocked_until is not None and row.blocked_until > now:
            return Slot(False, row.blocked_until, "blocked")
        cap = max(1, math.floor(row.limit * _share(priority)))
        if row.used >= cap:
            row.save(update_fields=["used", "resets_at"])
            return Slot(False, row.resets_at, "window_full")
        share = None
        if shared and tenant is not None:
            share, _ = TenantShare.objects.select_for_update().get_or_create(
                window=row, tenant=tenant, defaults={"resets_at": row.resets_at}
            )
            if share.resets_at != row.resets_at:  # this tenant's first request this window
                share.used, share.resets_at = 0, row.resets_at
            window_s = LIMITS[endpoint].window_s
            active = TenantShare.objects.filter(
                window=row, resets_at__gt=row.resets_at - timedelta(seconds=2 * window_s)
            ).count()
            if share.used >= max(1, math.ceil(cap / max(active, 1))):
                share.save(update_fields=["used", "resets_at"])
                row.save(update_fields=["used", "resets_at"])
                return Slot(False, row.resets_at, "tenant_share")
            share.used += 1
            share.save(update_fields=["used", "resets_at"])
        row.used += 1
        row.save(update_fields=["used", "resets_at"])
    return Slot(True)


def budget_observe(
    *,
    credential: str,
    endpoint: str,
    status: int,
    headers: Mapping[str, Any] | None = None,
    user: bool = False,
    now: datetime | None = None,
) -> RateWindow:
    """What X answered to a request counted by ``budget_take``: its rate-limit headers
    (``x-rate-limit-limit``, ``-remaining``, ``-reset`` in epoch seconds) correct the
    window, a 429 blocks it until X's reset, a 5xx backs off, anything else clears the
    run of failures."""
    now = now or datetime.now(UTC)
    headers = {key.lower(): value for key, value in (headers or {}).items()}
    with transaction.atomic():
        row = _window(credential, endpoint, user=user, now=now)
        fields = {"used", "resets_at", "failures", "blocked_until"}
        reset = _int(headers.get("x-rate-limit-reset"))
        limit = _int(headers.get("x-rate-limit-limit"))
        remaining = _int(headers.get("x-rate-limit-remaining"))
        if reset is not None:
            row.resets_at = datetime.fromtimestamp(reset, UTC)
        if limit is not None and remaining is not None:
            row.limit = limit
            row.used = max(row.used, limit - remaining)
            fields.add("limit")
        if status == 429:
            row.used = row.limit
            row.blocked_until = (
                row.resets_at if row.resets_at > now else now + timedelta(seconds=MAX_BACKOFF_S)
            )
        elif status >= 500:
            row.failures += 1
            pause = min(2 ** (row.failures - 1), MAX_BACKOFF_S)
            row.blocked_until = now + timedelta(seconds=pause)
        else:
            row.failures = 0
        row.save(update_fields=sorted(fields))
    return row


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
