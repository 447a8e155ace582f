"""What a payment-provider adapter does, whatever the provider: check and read its
webhook deliveries, tell a payer where to pay, and create payouts idempotently.

A new provider is a subclass of ``Provider`` registered in ``wallet.providers.ADAPTERS``
plus a ``WALLET_PROVIDERS`` entry; the wallet's services only ever see these types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class WebhookRefused(Exception):
    """A delivery we do not act on: answered with ``status`` and ``{"detail", "code"}``."""

    def __init__(self, detail: str, *, code: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status


class ProviderUnavailable(Exception):
    """The provider could not answer (network, 5xx, timeout): try the same request again
    later under the same idempotency key."""


@dataclass(frozen=True)
class Deposit:
    reference: str  # what the payer sent with the money: names the tenant and group
    currency: str
    amount: int  # minor units


@dataclass(frozen=True)
class PayoutOutcome:
    """Where a payout stands: ``pending`` (ask again later), ``succeeded`` or ``failed``
    (``failed`` also when the provider refused to create it)."""

    status: str
    payout_id: str = ""
    failure_code: str = ""
    failure_message: str = ""


@dataclass(frozen=True)
class Event:
    """A verified webhook delivery: a deposit arrived, or a payout reached its outcome."""

    id: str
    type: str
    deposit: Deposit | None = None
    withdrawal_id: str | None = None  # for payout events
    payout: PayoutOutcome | None = None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PayoutRequest:
    withdrawal_id: str  # also the idempotency key: one payout per withdrawal, ever
    currency: str
    amount: int
    destination: str


class Provider:
    """An adapter for one provider account (``name`` is its ``WALLET_PROVIDERS`` key)."""

    def __init__(
        self, *, name: str, base_url: str, api_key: str, webhook_secret: str, tolerance: int
    ) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.tolerance = tolerance  # seconds a delivery's signed timestamp may be off

    def event_verify(self, *, headers: dict[str, str], body: bytes, now: float) -> Event:
        """Check the delivery's signature over the raw body and its timestamp, then read
        it; ``WebhookRefused`` when any of it fails."""
        raise NotImplementedError

    def deposit_instructions(self, *, reference: str, currency: str) -> dict[str, str]:
        """What a payer needs to send ``currency`` for ``reference``: ``pay_to`` and
        ``memo`` at least."""
        raise NotImplementedError

    def payout_create(self, request: PayoutRequest) -> PayoutOutcome:
        """Ask for the payout (idempotent by ``withdrawal_id``: asking again returns the
        same payout, never a second one); ``ProviderUnavailable`` when it cannot tell."""
        raise NotImplementedError
