"""Withdrawals: a user's reward money paid out to an address through a payment provider.

``withdrawal_request`` holds the amount at once (the user's available account → their
escrow, a ``Hold``), after the per-tenant checks: the destination's form for the
currency, the user's daily limit, and whether an admin must approve first. The payout is
sent by a durable job (``wallet.withdrawal_payout``), never in the HTTP request; its
idempotency key is the withdrawal's id, so a job run again after a crash between "sent"
and "recorded" gets the same payout back instead of paying twice. Success settles the
hold to the tenant's external account; a failure or refusal releases it to the user.

States: pending_approval → queued (approved) or rejected; queued → sending → paid or
failed. Every change is audited and the user is notified.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

import history.services as history
from botruntime.services import job_enqueue
from config.errors import ServiceError
from config.numbers import whole_number
from history.services import SYSTEM, Actor
from wallet.currencies import currencies
from wallet.destinations import destination_valid, withdrawable
from wallet.errors import WalletError
from wallet.models import MAX_KEY, Account, Withdrawal, WithdrawalPolicy
from wallet.notices import withdrawal_notify
from wallet.providers import provider_default, provider_get
from wallet.providers.base import PayoutOutcome, PayoutRequest, WebhookRefused
from wallet.selectors import withdrawal_not_found
from wallet.services.holds import hold_cancel, hold_create, hold_settle
from wallet.services.ledger import MAX_AMOUNT, account_get_or_create

if TYPE_CHECKING:
    from accounts.models import TelegramUser
    from tenancy.models import Tenant

logger = logging.getLogger(__name__)

PAYOUT_JOB = "wallet.withdrawal_payout"
# Withdrawals that count against the daily limit: all but those that gave the money back.
_COUNTED = [s for s in Withdrawal.Status.values if s not in ("failed", "rejected")]


@dataclass(frozen=True)
class Requested:
    withdrawal: Withdrawal
    created: bool  # False: the same Idempotency-Key again, this is the first request's


def _refuse(message: str, code: str, status: int = 400) -> ServiceError:
    return ServiceError(message, code=code, status=status)


def policy_of(*, tenant: Tenant, currency: str) -> WithdrawalPolicy:
    found = WithdrawalPolicy.objects.filter(tenant=tenant, currency=currency).first()
    return found or WithdrawalPolicy(tenant=tenant, currency=currency)


def _user_lock(tenant: Tenant, user_id: int) -> None:
    """One request of a user at a time, so two cannot both pass the daily limit."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"wallet.withdrawal:{tenant.pk}:{user_id}"],
        )


def _withdrawn_today(tenant: Tenant, user_id: int, currency: str) -> int:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    total = Withdrawal.objects.filter(
        tenant=tenant,
        user_id=user_id,
        currency=currency,
        created_at__gte=today,
        status__in=_COUNTED,
    ).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def _check(currency: str, amount: int, destination: str, key: str | None) -> str:
    if not key or len(key) > MAX_KEY:
        raise _refuse(
            f"send an Idempotency-Key header of 1 to {MAX_KEY} characters",
            "idempotency_key_missing",
        )
    if currency not in currencies() or not withdrawable(currency):
        raise _refuse(f"{currency!r} cannot be withdrawn", "currency_not_withdrawable")
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise _refuse("the amount is a positive integer of minor units", "invalid_amount")
    if not destination_valid(currency, destination):
        raise _refuse(f"not a {currency} address", "invalid_destination")
    return key


def withdrawal_request(
    *,
    tenant: Tenant,
    user: TelegramUser,
    currency: str,
    amount: int,
    destination: str,
    idempotency_key: str | None,
    request: Any = None,
) -> Requested:
    """Hold ``amount`` of the user's ``currency`` and start its withdrawal (or, above the
    tenant's threshold, wait for an admin). The same key again returns the same
    withdrawal; with another amount, currency or destination it is a 409."""
    key = _check(currency, amount, destination, idempotency_key)
    provider = provider_default()
    if provider is None:
        raise _refuse("no payment provider is configured", "no_provider", 503)
    user_id = user.telegram_id

    def once() -> Requested:
        _user_lock(tenant, user_id)
        existing = Withdrawal.objects.filter(
            tenant=tenant, user_id=user_id, idempotency_key=key
        ).first()
        if existing is not None:
            if (existing.currency, existing.amount, existing.destination) != (
                currency,
                amount,
                destination,
            ):
                raise _refuse(
                    "this Idempotency-Key started another withdrawal", "idempotency_conflict", 409
                )
            return Requested(existing, created=False)
        policy = policy_of(tenant=tenant, currency=currency)
        if policy.daily_limit is not None:
            if _withdrawn_today(tenant, user_id, currency) + amount > policy.daily_limit:
                raise _refuse(
                    "this would exceed your daily withdrawal limit", "daily_limit_exceeded", 409
                )
        needs_approval = policy.approval_above is not None and amount > policy.approval_above
        withdrawal = Withdrawal.objects.create(
            tenant=tenant,
            user_id=user_id,
            currency=currency,
            amount=amount,
            destination=destination,
            provider=provider.name,
            idempotency_key=key,
            status=(
                Withdrawal.Status.PENDING_APPROVAL if needs_approval else Withdrawal.Status.QUEUED
            ),
        )
        source = account_get_or_create(
            tenant=tenant,
            owner_kind=Account.OwnerKind.USER,
            owner_id=user_id,
            currency=currency,
            kind=Account.Kind.AVAILABLE,
        )
        # insufficient_funds (409) rolls the withdrawal back with it.
        withdrawal.hold = hold_create(
            tenant=tenant,
            group_account=source,
            amount=amount,
            reference=f"withdrawal:{withdrawal.pk}",
            idempotency_key=f"withdrawal:{withdrawal.pk}",
            actor=Actor.user(user),
        )
        withdrawal.save(update_fields=["hold"])
        if not needs_approval:
            _enqueue(withdrawal)
        history.record(
            action="wallet.withdrawal_requested",
            actor=Actor.user(user),
            tenant=tenant,
            target=("withdrawal", withdrawal.pk),
            data={
                "amount": amount,
                "currency": currency,
                "destination": destination,
                "status": withdrawal.status,
            },
            request=request,
        )
        withdrawal_notify(withdrawal, step=withdrawal.status)
        return Requested(withdrawal, created=True)

    with transaction.atomic():
        requested = once()
    if requested.created:
        logger.info(
            "wallet.withdrawal_requested",
            extra={
                "tenant_id": tenant.pk,
                "withdrawal_id": requested.withdrawal.pk,
                "status": requested.withdrawal.status,
            },
        )
    return requested


def _enqueue(withdrawal: Withdrawal, *, after: timedelta | None = None) -> None:
    job_enqueue(
        kind=PAYOUT_JOB,
        tenant=withdrawal.tenant_id,
        payload={"withdrawal_id": withdrawal.pk},
        run_at=timezone.now() + after if after else None,
        dedupe_key=f"{PAYOUT_JOB}:{withdrawal.pk}",
    )


def _locked(tenant: Tenant, withdrawal_id: int) -> Withdrawal:
    found = Withdrawal.objects.select_for_update().filter(tenant=tenant, pk=withdrawal_id).first()
    if found is None:
        raise withdrawal_not_found(withdrawal_id)
    return found


def _pending_approval(withdrawal: Withdrawal) -> None:
    if withdrawal.status != Withdrawal.Status.PENDING_APPROVAL:
        raise _refuse(
            f"withdrawal {withdrawal.pk} is {withdrawal.status}, not pending approval",
            "not_pending_approval",
            409,
        )


def _decided(
    withdrawal: Withdrawal,
    *,
    tenant: Tenant,
    status: str,
    step: str,
    actor: TelegramUser,
    request: Any,
    finished: bool = False,
) -> None:
    """An admin's decision on ``withdrawal`` (locked, in the caller's transaction): its new
    status and who decided (and when it ``finished``), the history entry
    ``wallet.withdrawal_<step>`` and the user's notification of ``step``."""
    now = timezone.now()
    withdrawal.status = status
    withdrawal.decided_by = f"user:{actor.telegram_id}"
    withdrawal.updated_at = now
    fields = ["status", "decided_by", "updated_at"]
    if finished:
        withdrawal.finished_at = now
        fields.append("finished_at")
    withdrawal.save(update_fields=fields)
    history.record(
        action=f"wallet.withdrawal_{step}",
        actor=Actor.user(actor),
        tenant=tenant,
        target=("withdrawal", withdrawal.pk),
        request=request,
    )
    withdrawal_notify(withdrawal, step=step)


def withdrawal_approve(
    *, tenant: Tenant, withdrawal_id: int, actor: TelegramUser, request: Any = None
) -> Withdrawal:
    """An admin lets a withdrawal above the threshold go: its payout job is queued."""
    with transaction.atomic():
        withdrawal = _locked(tenant, withdrawal_id)
        _pending_approval(withdrawal)
        _enqueue(withdrawal)
        _decided(
            withdrawal,
            tenant=tenant,
            status=Withdrawal.Status.QUEUED,
            step="approved",
            actor=actor,
            request=request,
        )
    return withdrawal


def withdrawal_reject(
    *, tenant: Tenant, withdrawal_id: int, actor: TelegramUser, request: Any = None
) -> Withdrawal:
    """An admin refuses a withdrawal waiting for approval: the amount goes back."""
    with transaction.atomic():
        withdrawal = _locked(tenant, withdrawal_id)
        _pending_approval(withdrawal)
        assert withdrawal.hold is not None
        hold_cancel(
            hold=withdrawal.hold,
            idempotency_key=f"withdrawal:{withdrawal.pk}:rejected",
            actor=Actor.user(actor),
        )
        _decided(
            withdrawal,
            tenant=tenant,
            status=Withdrawal.Status.REJECTED,
            step="rejected",
            actor=actor,
            request=request,
            finished=True,
        )
    return withdrawal


def withdrawal_policy_set(
    *,
    tenant: Tenant,
    currency: str,
    approval_above: int | None,
    daily_limit: int | None,
    actor: Actor = SYSTEM,
    request: Any = None,
) -> WithdrawalPolicy:
    """A tenant's approval threshold and per-user daily limit for ``currency`` (None:
    none), in minor units."""
    if currency not in currencies():
        raise WalletError(f"unknown currency {currency!r}", code="unknown_currency")
    for value in (approval_above, daily_limit):
        if value is not None and (isinstance(value, bool) or not 0 <= value <= MAX_AMOUNT):
            raise WalletError("limits are integers of minor units, 0 or more", code="invalid")
    with transaction.atomic():
        policy, _ = WithdrawalPolicy.objects.update_or_create(
            tenant=tenant,
            currency=currency,
            defaults={
                "approval_above": approval_above,
                "daily_limit": daily_limit,
                "updated_at": timezone.now(),
            },
        )
        history.record(
            action="wallet.withdrawal_policy_set",
            actor=actor,
            tenant=tenant,
            target=("withdrawal_policy", currency),
            data={"approval_above": approval_above, "daily_limit": daily_limit},
            request=request,
        )
    return policy


# ---- the payout (the job) and its outcome ----------------------------------------------
def withdrawal_payout_send(*, withdrawal_id: int) -> str:
    """The job's work: ask the provider for the payout (again, after a crash: the same
    key returns the same payout) and record what it says; a pending payout is asked
    again after ``WALLET_PAYOUT_POLL_S`` unless its webhook settles it first. Raises
    ``ProviderUnavailable`` when the provider cannot tell, so the job retries."""
    with transaction.atomic():
        withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
        if withdrawal.status not in (Withdrawal.Status.QUEUED, Withdrawal.Status.SENDING):
            return withdrawal.status  # settled meanwhile, or not approved: nothing to send
        if withdrawal.status == Withdrawal.Status.QUEUED:
            # Committed before the request: from here on, only the provider's answer
            # (under the same key) decides, never a second request of another kind.
            withdrawal.status = Withdrawal.Status.SENDING
            withdrawal.updated_at = timezone.now()
            withdrawal.save(update_fields=["status", "updated_at"])
            history.record(
                action="wallet.withdrawal_sending",
                tenant=withdrawal.tenant_id,
                target=("withdrawal", withdrawal.pk),
                data={"provider": withdrawal.provider},
            )
    provider = provider_get(withdrawal.provider)
    if provider is None:
        raise _refuse(f"payment provider {withdrawal.provider!r} is not configured", "no_provider")
    outcome = provider.payout_create(
        PayoutRequest(
            withdrawal_id=str(withdrawal.pk),
            currency=withdrawal.currency,
            amount=withdrawal.amount,
            destination=withdrawal.destination,
        )
    )
    recorded = withdrawal_payout_record(withdrawal_id=withdrawal.pk, outcome=outcome)
    if recorded.status == Withdrawal.Status.SENDING:
        with transaction.atomic():
            _enqueue(recorded, after=timedelta(seconds=settings.WALLET_PAYOUT_POLL_S))
    return recorded.status


def withdrawal_payout_record(*, withdrawal_id: int, outcome: PayoutOutcome) -> Withdrawal:
    """Apply a payout's outcome once: succeeded settles the hold to the tenant's external
    account, failed releases it to the user, pending only notes the payout's id. An
    outcome for a withdrawal already paid or failed changes nothing."""
    with transaction.atomic():
        withdrawal = Withdrawal.objects.select_for_update().get(pk=withdrawal_id)
        if withdrawal.status != Withdrawal.Status.SENDING:
            return withdrawal
        if withdrawal.payout_id and outcome.payout_id and outcome.payout_id != withdrawal.payout_id:
            return withdrawal  # not this withdrawal's payout (there is only ever one)
        withdrawal.payout_id = withdrawal.payout_id or outcome.payout_id
        withdrawal.updated_at = timezone.now()
        fields = ["payout_id", "updated_at", "status", "finished_at"]
        assert withdrawal.hold is not None
        if outcome.status == "succeeded":
            external = account_get_or_create(
                tenant=withdrawal.tenant,
                owner_kind=Account.OwnerKind.TENANT,
                owner_id=withdrawal.tenant_id,
                currency=withdrawal.currency,
                kind=Account.Kind.EXTERNAL,
            )
            hold_settle(
                hold=withdrawal.hold,
                payouts=[(external, withdrawal.amount)],
                idempotency_key=f"withdrawal:{withdrawal.pk}:paid",
            )
            withdrawal.status = Withdrawal.Status.PAID
        elif outcome.status == "failed":
            hold_cancel(hold=withdrawal.hold, idempotency_key=f"withdrawal:{withdrawal.pk}:failed")
            withdrawal.status = Withdrawal.Status.FAILED
            withdrawal.failure_code = outcome.failure_code
            withdrawal.failure_message = outcome.failure_message
            fields += ["failure_code", "failure_message"]
        else:
            withdrawal.save(update_fields=["payout_id", "updated_at"])
            return withdrawal
        withdrawal.finished_at = withdrawal.updated_at
        withdrawal.save(update_fields=fields)
        history.record(
            action=f"wallet.withdrawal_{withdrawal.status}",
            tenant=withdrawal.tenant_id,
            target=("withdrawal", withdrawal.pk),
            data={"payout_id": withdrawal.payout_id, "failure_code": withdrawal.failure_code},
        )
        withdrawal_notify(withdrawal, step=withdrawal.status)
    logger.info(
        "wallet.withdrawal_finished",
        extra={
            "tenant_id": withdrawal.tenant_id,
            "withdrawal_id": withdrawal.pk,
            "status": withdrawal.status,
        },
    )
    return withdrawal


def withdrawal_payout_event(
    *, provider: str, withdrawal_id: str, outcome: PayoutOutcome
) -> Withdrawal:
    """A payout webhook (already verified): apply its outcome to its withdrawal."""
    pk = whole_number(withdrawal_id)
    found = Withdrawal.objects.filter(pk=pk, provider=provider).first() if pk else None
    if found is None:
        raise WebhookRefused(
            "no withdrawal of this provider has that id", code="unknown_withdrawal", status=404
        )
    return withdrawal_payout_record(withdrawal_id=found.pk, outcome=outcome)
