"""Reads of the X client's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from xclient.metering import cap_of
from xclient.models import Credential, Usage

if TYPE_CHECKING:
    from tenancy.models import Tenant


@dataclass(frozen=True)
class UsageSummary:
    month: date
    post_reads: int
    user_reads: int
    owned_reads: int
    cost_micros: int
    cap_micros: int | None
    alerted: int

    @property
    def paused(self) -> bool:
        return self.cap_micros is not None and self.cost_micros >= self.cap_micros


def usage_summary(*, tenant: Tenant, now: datetime | None = None) -> UsageSummary:
    """The tenant's X reads this UTC month, their cost and its cap."""
    month = (now or datetime.now(UTC)).astimezone(UTC).date().replace(day=1)
    usage = Usage.objects.filter(tenant=tenant, month=month).first()
    return UsageSummary(
        month=month,
        post_reads=usage.post_reads if usage else 0,
        user_reads=usage.user_reads if usage else 0,
        owned_reads=usage.owned_reads if usage else 0,
        cost_micros=usage.cost_micros if usage else 0,
        cap_micros=cap_of(tenant),
        alerted=usage.alerted if usage else 0,
    )


def credential_list(*, tenant: Tenant) -> list[Credential]:
    """The tenant's X credentials, its app token first (what X named, never the tokens)."""
    return list(Credential.objects.filter(tenant=tenant).order_by("kind", "username", "pk"))
