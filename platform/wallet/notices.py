"""The wallet's notifications: ``withdrawal.*`` to the user at each step of a withdrawal,
``deposit.received`` to the tenant's fund managers (members holding ``manage_funds``: a
group's admins by default) when a provider deposit reaches one of its groups. Queued in
the caller's transaction through ``notifications.services.notify``, which never fails the
operation."""

from __future__ import annotations

from typing import TYPE_CHECKING

from accounts.roles import Capability, effective_capabilities
from accounts.selectors import membership_list, user_get
from notifications.events import Audience, EventType, event_register
from notifications.services import notify
from wallet.currencies import amount_format

if TYPE_CHECKING:
    from tenancy.models import Tenant
    from wallet.models import Withdrawal

WITHDRAWAL_EVENTS = event_register(
    EventType(
        "withdrawal.*",
        "Withdrawals",
        "Each step of your withdrawals: requested, approved, paid, failed or rejected",
        Audience.USER,
        True,
    )
)

_STEPS = {
    "pending_approval": "waits for an admin's approval",
    "approved": "was approved and is on its way",
    "queued": "is on its way to the payment provider",
    "paid": "was paid",
    "failed": "failed; the amount is back in your balance",
    "rejected": "was rejected by an admin; the amount is back in your balance",
}


def withdrawal_notify(withdrawal: Withdrawal, *, step: str) -> None:
    """Tell the user where their withdrawal stands (``step``: a status, or "approved")."""
    user = user_get(telegram_id=withdrawal.user_id)
    if user is None:
        return
    amount = amount_format(withdrawal.amount, withdrawal.currency)
    notify(
        tenant=withdrawal.tenant,
        event=f"withdrawal.{step}",
        text=f"Your withdrawal #{withdrawal.pk} of {amount} {_STEPS[step]}.",
        user=user,
        idempotency_key=f"wallet:withdrawal:{withdrawal.pk}:{step}",
    )


def deposit_notify(
    *, tenant: Tenant, chat_id: int, title: str, amount: int, currency: str, event_pk: int
) -> int:
    """Tell the tenant's fund managers a deposit reached a group; returns how many."""
    told = 0
    for membership in membership_list(tenant=tenant):
        capabilities = effective_capabilities(
            membership.role, membership.granted, membership.revoked
        )
        if Capability.MANAGE_FUNDS not in capabilities and not membership.user.is_staff:
            continue
        message = notify(
            tenant=tenant,
            event="deposit.received",
            text=f"A deposit of {amount_format(amount, currency)} reached {title or chat_id}.",
            user=membership.user,
            idempotency_key=f"wallet:deposit:{event_pk}:{membership.user_id}",
        )
        told += message is not None
    return told
