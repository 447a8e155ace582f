"""Reads of the X client's tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from django.db.models import Q

from tenancy.models import Tenant
from xclient.metering import cap_of
from xclient.models import Connect, Credential, LinkCode, Usage, XLink

if TYPE_CHECKING:
    from accounts.models import TelegramUser


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


def own_app_tenant_ids(tenants: list[Tenant]) -> set[int]:
    """The ids of ``tenants`` that read X through an app of their own (an app bearer
    token), not the platform's."""
    return set(
        Credential.objects.filter(
            tenant__in=tenants, kind=Credential.Kind.APP, x_user_id=None
        ).values_list("tenant_id", flat=True)
    )


def platform_tenant() -> Tenant | None:
    """The public tenant: what the platform's own X reads are billed to."""
    return Tenant.objects.filter(schema_name="public").first()


def link_active(*, user: TelegramUser) -> XLink | None:
    """The user's linked X account, if any (raids read links through here)."""
    return XLink.objects.filter(user=user, unlinked_at__isnull=True).first()


def link_of_x_account(*, x_user_id: int) -> XLink | None:
    """The active link of an X account, if any."""
    return XLink.objects.filter(x_user_id=x_user_id, unlinked_at__isnull=True).first()


def links_of_users(*, user_ids: list[int]) -> dict[int, XLink]:
    """Active links by Telegram user pk (one query for a raid's participants)."""
    links = XLink.objects.filter(user_id__in=user_ids, unlinked_at__isnull=True)
    return {link.user_id: link for link in links}


def link_history(*, user: TelegramUser | None = None, x_user_id: int | None = None) -> list[XLink]:
    """Every link, unlinked ones included, of a user or an X account, newest first
    (anti-fraud: accounts shared or relinked)."""
    links = XLink.objects.all()
    if user is not None:
        links = links.filter(user=user)
    if x_user_id is not None:
        links = links.filter(x_user_id=x_user_id)
    return list(links.order_by("-linked_at", "-pk"))


def link_history_of(*, telegram_ids: list[int], x_user_ids: list[int]) -> list[XLink]:
    """Every link, unlinked ones included, of any of these Telegram users (by Telegram id)
    or X accounts, oldest first, with its user: ``link_history`` for a whole raid in one
    query (anti-fraud)."""
    links = XLink.objects.filter(
        Q(user__telegram_id__in=telegram_ids) | Q(x_user_id__in=x_user_ids)
    ).select_related("user")
    return list(links.order_by("linked_at", "pk"))


def link_code_pending(*, user: TelegramUser) -> LinkCode | None:
    return LinkCode.objects.filter(user=user).first()


def connect_kind(*, state: str) -> str | None:
    """The kind of the OAuth flow ``state`` names ("credential", "link"), if any."""
    return Connect.objects.filter(state=state).values_list("kind", flat=True).first()
