"""The X client's notification: ``xbudget.alert_80`` and ``xbudget.alert_100`` to a
tenant's settings managers when its X reads reach that share of the monthly cap (reads
pause at 100%)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.roles import Capability, effective_capabilities
from accounts.selectors import membership_list
from notifications.events import Audience, EventType, event_register
from notifications.services import notify

if TYPE_CHECKING:
    from tenancy.models import Tenant
    from xclient.models import Usage

BUDGET_EVENTS = event_register(
    EventType(
        "xbudget.*",
        "X budget",
        "Your community's X reads reached 80% or 100% of the monthly cap (for its admins)",
        Audience.USER,
        True,
    )
)


def budget_alert_notify(*, tenant: Tenant, usage: Usage, percent: int, cap_micros: int) -> int:
    """Tell the tenant's settings managers; returns how many were told."""
    spent, cap = usage.cost_micros / 1e6, cap_micros / 1e6
    text = f"X reads this month cost ${spent:.2f} of the ${cap:.2f} cap ({percent}%)." + (
        " Reads are paused until the cap is raised or the month ends." if percent >= 100 else ""
    )
    told = 0
    for membership in membership_list(tenant=tenant):
        capabilities = effective_capabilities(
            membership.role, membership.granted, membership.revoked
        )
        if Capability.MANAGE_SETTINGS not in capabilities:
            continue
        message = notify(
            tenant=tenant,
            event=f"xbudget.alert_{percent}",
            text=text,
            user=membership.user,
            idempotency_key=f"xclient:budget:{usage.pk}:{percent}:{membership.user_id}",
        )
        told += message is not None
    return told
