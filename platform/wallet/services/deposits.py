"""Provider webhooks: a processor tells us money arrived for a deposit reference (or that a
payout reached its outcome). ``provider_event_receive`` checks the delivery (signature over
the raw body, timestamp tolerance, the reference, currency and amount), credits the group
once per provider event id, and records every delivery as a ``ProviderEvent``: a refused
one too, so an operator sees forged, stale and misdirected deliveries.

The answer is a ``Receipt`` rather than an exception: a refusal is committed (the record)
and answered 4xx, which an exception would roll back.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from tenancy.models import Tenant
from tenancy.selectors import chat_binding_get
from wallet.currencies import currencies
from wallet.models import Account, ProviderEvent, Transfer
from wallet.notices import deposit_notify
from wallet.providers import provider_get
from wallet.providers.base import Event, WebhookRefused
from wallet.references import reference_parse
from wallet.services.ledger import account_get_or_create, transfer_post
from wallet.services.withdrawals import withdrawal_payout_event

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Receipt:
    status: int  # the HTTP status to answer
    body: dict[str, Any] = field(default_factory=dict)  # {"outcome", ...} or {"detail", "code"}


@dataclass
class _Delivery:
    provider: str
    body_sha256: str
    remote_addr: str
    event: Event | None = None

    def record(self, outcome: str, **fields: Any) -> ProviderEvent:
        event = self.event
        return ProviderEvent.objects.create(
            provider=self.provider[:40],
            event_id=event.id if event else "",
            event_type=(event.type if event else "")[:60],
            outcome=outcome,
            body_sha256=self.body_sha256,
            remote_addr=self.remote_addr[:64],
            **fields,
        )

    def refuse(self, refused: WebhookRefused, **fields: Any) -> Receipt:
        recorded = self.record(ProviderEvent.Outcome.REFUSED, code=refused.code[:40], **fields)
        logger.warning(
            "wallet.webhook_refused",
            extra={
                "provider": self.provider,
                "code": refused.code,
                "event_id": recorded.event_id,
                "provider_event": recorded.pk,
                "remote_addr": self.remote_addr,
            },
        )
        return Receipt(refused.status, {"detail": refused.detail, "code": refused.code})


def provider_event_receive(
    *,
    provider: str,
    headers: dict[str, str],
    body: bytes,
    remote_addr: str = "",
    now: float | None = None,
) -> Receipt:
    """Check and act on one webhook delivery of ``provider`` (``headers`` with lower-case
    names, ``body`` the raw bytes as received). Duplicates of a credited event answer 200
    and move nothing."""
    delivery = _Delivery(provider, hashlib.sha256(body).hexdigest(), remote_addr)
    adapter = provider_get(provider)
    if adapter is None:
        refused = WebhookRefused("no such payment provider", code="unknown_provider", status=404)
        return delivery.refuse(refused)
    try:
        event = adapter.event_verify(
            headers=headers, body=body, now=time.time() if now is None else now
        )
    except WebhookRefused as refused:
        return delivery.refuse(refused)
    delivery.event = event
    if event.deposit is not None:
        return _deposit(delivery, event)
    if event.payout is not None and event.withdrawal_id is not None:
        try:
            withdrawal = withdrawal_payout_event(
                provider=provider, withdrawal_id=event.withdrawal_id, outcome=event.payout
            )
        except WebhookRefused as refused:
            return delivery.refuse(refused)
        delivery.record(ProviderEvent.Outcome.PAYOUT, tenant_id=withdrawal.tenant_id)
        return Receipt(200, {"outcome": "payout", "withdrawal": withdrawal.status})
    delivery.record(ProviderEvent.Outcome.IGNORED)
    return Receipt(200, {"outcome": "ignored"})


def _unknown_group() -> WebhookRefused:
    return WebhookRefused(
        "the reference names no group of this platform", code="unknown_group", status=404
    )


def _event_lock(provider: str, event_id: str) -> None:
    """Serialize the deliveries of one event (a provider retrying while the first is
    still being handled), so its duplicate check and its credit cannot interleave."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"wallet.provider_event:{provider}:{event_id}"],
        )


def _deposit(delivery: _Delivery, event: Event) -> Receipt:
    assert event.deposit is not None
    deposit = event.deposit
    target = reference_parse(deposit.reference)
    if target is None:
        return delivery.refuse(_unknown_group(), currency=deposit.currency[:10])
    tenant = Tenant.objects.filter(pk=target.tenant_id).first()
    if tenant is None or tenant.is_public or tenant.status == Tenant.Status.DELETED:
        return delivery.refuse(_unknown_group())
    binding = chat_binding_get(tenant=tenant, chat_id=target.chat_id)
    if binding is None:  # unbound since the reference was handed out
        return delivery.refuse(_unknown_group(), tenant=tenant, chat_id=target.chat_id)
    seen = {"tenant": tenant, "chat_id": target.chat_id, "currency": deposit.currency[:10]}
    if deposit.currency not in currencies():
        refused = WebhookRefused(
            f"{deposit.currency!r} is not a currency of this platform", code="unknown_currency"
        )
        return delivery.refuse(refused, **seen)
    seen["amount"] = deposit.amount
    with transaction.atomic():
        _event_lock(delivery.provider, event.id)
        first = ProviderEvent.objects.filter(
            provider=delivery.provider, event_id=event.id, outcome=ProviderEvent.Outcome.CREDITED
        ).first()
        if first is not None:
            same = (first.tenant_id, first.chat_id, first.currency, first.amount) == (
                tenant.pk,
                target.chat_id,
                deposit.currency,
                deposit.amount,
            )
            if not same:
                refused = WebhookRefused(
                    "this event id was credited with other contents",
                    code="event_conflict",
                    status=409,
                )
                return delivery.refuse(refused, **seen)
            delivery.record(ProviderEvent.Outcome.DUPLICATE, transfer=first.transfer, **seen)
            return Receipt(200, {"outcome": "duplicate", "transfer_id": first.transfer_id})
        transfer = _credit(tenant, target.chat_id, delivery.provider, event)
        recorded = delivery.record(ProviderEvent.Outcome.CREDITED, transfer=transfer, **seen)
        deposit_notify(
            tenant=tenant,
            chat_id=target.chat_id,
            title=binding.title,
            amount=deposit.amount,
            currency=deposit.currency,
            event_pk=recorded.pk,
        )
    logger.info(
        "wallet.deposit_credited",
        extra={
            "tenant_id": tenant.pk,
            "chat_id": target.chat_id,
            "provider": delivery.provider,
            "event_id": event.id,
            "transfer_id": transfer.pk,
        },
    )
    return Receipt(200, {"outcome": "credited", "transfer_id": transfer.pk})


def _credit(tenant: Tenant, chat_id: int, provider: str, event: Event) -> Transfer:
    assert event.deposit is not None
    currency, amount = event.deposit.currency, event.deposit.amount
    external = account_get_or_create(
        tenant=tenant,
        owner_kind=Account.OwnerKind.TENANT,
        owner_id=tenant.pk,
        currency=currency,
        kind=Account.Kind.EXTERNAL,
    )
    group = account_get_or_create(
        tenant=tenant,
        owner_kind=Account.OwnerKind.GROUP,
        owner_id=chat_id,
        currency=currency,
        kind=Account.Kind.AVAILABLE,
    )
    # The event id is the key (hashed: ids are provider-defined and may be long).
    digest = hashlib.sha256(f"{provider}:{event.id}".encode()).hexdigest()[:40]
    return transfer_post(
        tenant=tenant,
        debit=external,
        credit=group,
        amount=amount,
        kind=Transfer.Kind.DEPOSIT,
        idempotency_key=f"provider-deposit:{digest}",
        metadata={"provider": provider, "event_id": event.id, "reference": event.deposit.reference},
    )
