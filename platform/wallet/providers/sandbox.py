"""The adapter of the loopback sandbox provider (``sandbox/provider``), and the model for
real ones: signed JSON events ``{"id", "type", "created", "data"}`` (``deposit.succeeded``
with ``reference``/``currency``/``amount``; ``payout.succeeded``/``payout.failed`` with the
payout), payouts through ``POST /v1/payouts`` with a bearer key and an ``Idempotency-Key``."""

from __future__ import annotations

import json
from typing import Any

import httpx

from wallet.providers.base import (
    Deposit,
    Event,
    PayoutOutcome,
    PayoutRequest,
    Provider,
    ProviderUnavailable,
    WebhookRefused,
)
from wallet.providers.stripe_style import signature_verify

SIGNATURE_HEADER = "X-Provider-Signature"
TIMEOUT_S = 10.0


def _malformed(detail: str) -> WebhookRefused:
    return WebhookRefused(detail, code="malformed_event")


class SandboxProvider(Provider):
    def event_verify(self, *, headers: dict[str, str], body: bytes, now: float) -> Event:
        signature_verify(
            secret=self.webhook_secret,
            header=headers.get(SIGNATURE_HEADER.lower()),
            body=body,
            now=now,
            tolerance=self.tolerance,
        )
        try:
            payload = json.loads(body)
        except ValueError:
            raise _malformed("the body is not JSON") from None
        if not isinstance(payload, dict):
            raise _malformed("the body is not a JSON object")
        event_id, kind, data = payload.get("id"), payload.get("type"), payload.get("data")
        if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
            raise _malformed("the event has no id")
        if not isinstance(kind, str) or not isinstance(data, dict):
            raise _malformed("the event has no type or data")
        if kind == "deposit.succeeded":
            return Event(id=event_id, type=kind, deposit=_deposit(data), raw=payload)
        if kind in ("payout.succeeded", "payout.failed"):
            withdrawal_id = data.get("withdrawal_id")
            if not isinstance(withdrawal_id, str):
                raise _malformed("the payout has no withdrawal_id")
            return Event(
                id=event_id,
                type=kind,
                withdrawal_id=withdrawal_id,
                payout=_outcome(data),
                raw=payload,
            )
        return Event(id=event_id, type=kind, raw=payload)

    def deposit_instructions(self, *, reference: str, currency: str) -> dict[str, str]:
        # The sandbox credits whatever reference a deposit names: it is the address.
        return {"pay_to": f"{self.base_url}/ (deposit to reference)", "memo": reference}

    def payout_create(self, request: PayoutRequest) -> PayoutOutcome:
        body = {
            "withdrawal_id": request.withdrawal_id,
            "currency": request.currency,
            "amount": request.amount,
            "destination": request.destination,
        }
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "Idempotency-Key": f"withdrawal-{request.withdrawal_id}",
        }
        try:
            with httpx.Client(base_url=self.base_url, timeout=TIMEOUT_S) as client:
                response = client.post("/v1/payouts", json=body, headers=headers)
                if response.status_code == 409 and _code(response) == "withdrawal_exists":
                    # A payout of this withdrawal exists under another key: it is the one.
                    response = client.get(
                        f"/v1/payouts/{_error(response).get('payout', '')}", headers=headers
                    )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (401, 429):
            # Its trouble or our key's, not the withdrawal's: retried under the same key.
            raise ProviderUnavailable(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            error = _error(response)
            return PayoutOutcome(
                status="failed",
                failure_code=str(error.get("code", "refused"))[:60],
                failure_message=str(error.get("message", ""))[:300],
            )
        return _outcome(response.json())


def _deposit(data: dict[str, Any]) -> Deposit:
    reference, currency, amount = data.get("reference"), data.get("currency"), data.get("amount")
    if not isinstance(reference, str) or not isinstance(currency, str):
        raise _malformed("a deposit names a reference and a currency")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise WebhookRefused(
            "a deposit's amount is a positive integer of minor units", code="invalid_amount"
        )
    return Deposit(reference=reference, currency=currency, amount=amount)


def _outcome(payout: dict[str, Any]) -> PayoutOutcome:
    status = payout.get("status")
    if status not in ("pending", "succeeded", "failed"):
        raise ProviderUnavailable(f"a payout in an unknown state {status!r}")
    return PayoutOutcome(
        status=status,
        payout_id=str(payout.get("id", "")),
        failure_code=str(payout.get("failure_code") or "")[:60],
        failure_message=str(payout.get("failure_message") or "")[:300],
    )


def _error(response: httpx.Response) -> dict[str, Any]:
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return {}
    return error if isinstance(error, dict) else {}


def _code(response: httpx.Response) -> str:
    return str(_error(response).get("code", ""))
