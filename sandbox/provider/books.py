"""What the provider has on its books: deposits, payouts, the idempotency keys payouts were
asked with, the events it owes the webhook, and the scripted outcomes of the next payouts.
Everything lives in memory behind one lock (a test thread and the server thread both use
it); nothing here does I/O. New events go to ``emit`` (the server delivers them) and timed
settlements to ``schedule``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.provider.errors import ApiError, ControlError, invalid
from sandbox.provider.outcomes import FINAL, Outcome

JSONDict = dict[str, Any]

CURRENCIES = ("USDT", "USDC", "TON", "BTC", "ETH", "USD", "EUR")
PAYOUT_FIELDS = ("withdrawal_id", "currency", "amount", "destination")
MAX_KEY_LENGTH = 255


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass
class Attempt:
    """One POST of an event to the webhook."""

    at: int
    kind: str  # "delivery", "retry", "resend" or "forged:<fault>"
    signature: str | None
    status: int | None  # the receiver's HTTP status; None when it was not reached
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> JSONDict:
        return {
            "at": self.at,
            "kind": self.kind,
            "signature": self.signature,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Event:
    id: str
    type: str
    created: int
    data: JSONDict
    body: bytes  # the exact bytes signed and sent: the same on every delivery
    state: str = "pending"  # "pending", "delivered", or "failed" (retries exhausted)
    attempts: list[Attempt] = field(default_factory=list)

    def as_json(self) -> JSONDict:
        """The event as its webhook delivers it."""
        return json.loads(self.body)

    def summary(self) -> JSONDict:
        return {
            **self.as_json(),
            "state": self.state,
            "attempts": [a.as_json() for a in self.attempts],
        }


@dataclass
class KeyRecord:
    """What an Idempotency-Key was first used for, and what it answers again."""

    fingerprint: str
    payout_id: str | None = None
    error: ApiError | None = None


@dataclass
class PayoutAnswer:
    status: int
    body: JSONDict
    replayed: bool = False


class Books:
    def __init__(
        self,
        *,
        wall_clock: Callable[[], float],
        emit: Callable[[Event], None],
        schedule: Callable[[float, Callable[[], None]], None],
        default_outcome: Outcome,
        currencies: tuple[str, ...] = CURRENCIES,
    ) -> None:
        self.lock = threading.RLock()
        self.wall_clock = wall_clock
        self.emit = emit
        self.schedule = schedule
        self.default_outcome = default_outcome
        self.currencies = currencies
        self.clear()

    def clear(self) -> None:
        self.events: dict[str, Event] = {}
        self.deposits: list[JSONDict] = []
        self.payouts: dict[str, JSONDict] = {}
        self.keys: dict[str, KeyRecord] = {}
        self.by_withdrawal: dict[str, str] = {}
        self.outcomes: deque[Outcome] = deque()
        self.generation = getattr(self, "generation", 0) + 1  # timers of a cleared world

    def now(self) -> int:
        return int(self.wall_clock())

    # ---- events -----------------------------------------------------------------------
    def event_new(self, type: str, data: JSONDict, event_id: str | None = None) -> Event:
        event_id = event_id or new_id("evt")
        if event_id in self.events:
            raise ControlError(f"event {event_id} exists", code="event_exists", status=409)
        created = self.now()
        payload = {"id": event_id, "type": type, "created": created, "data": data}
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        event = self.events[event_id] = Event(event_id, type, created, data, body)
        self.emit(event)
        return event

    def event(self, event_id: str) -> Event:
        event = self.events.get(event_id)
        if event is None:
            raise ControlError(f"no event {event_id}", code="event_not_found", status=404)
        return event

    # ---- deposits ---------------------------------------------------------------------
    def deposit_add(
        self, *, reference: Any, currency: Any, amount: Any, event_id: Any = None
    ) -> tuple[JSONDict, Event]:
        """Money arrived for ``reference``: record it and emit deposit.succeeded."""
        try:
            reference = _text("reference", reference, 256)
            currency = self._currency(currency)
            amount = _amount(amount)
        except ApiError as exc:
            raise ControlError(exc.error["message"], code="invalid", status=400) from None
        if event_id is not None and (not isinstance(event_id, str) or not event_id):
            raise ControlError("event_id is a non-empty string", code="invalid")
        data = {"reference": reference, "currency": currency, "amount": amount}
        event = self.event_new("deposit.succeeded", data, event_id)
        deposit = {"id": new_id("dep"), **data, "created": event.created, "event_id": event.id}
        self.deposits.append(deposit)
        return deposit, event

    # ---- payouts ----------------------------------------------------------------------
    def payout_create(self, *, key: str | None, body: Any) -> PayoutAnswer:
        """POST /v1/payouts with an Idempotency-Key (authentication checked already)."""
        if not key:
            raise invalid(
                "Idempotency-Key", "send an Idempotency-Key header", "idempotency_key_missing"
            )
        if len(key) > MAX_KEY_LENGTH:
            raise invalid("Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters")
        if not isinstance(body, dict):
            raise invalid("body", "the body is a JSON object", "invalid_json")
        fingerprint = json.dumps(body, sort_keys=True, separators=(",", ":"))
        record = self.keys.get(key)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise ApiError(
                    409,
                    "idempotency_error",
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different body",
                )
            if record.error is not None:
                raise record.error
            assert record.payout_id is not None
            return PayoutAnswer(201, dict(self.payouts[record.payout_id]), replayed=True)
        fields = self._payout_fields(body)  # a request that fails validation saves nothing
        existing = self.by_withdrawal.get(fields["withdrawal_id"])
        if existing is not None and self.payouts[existing]["status"] != "failed":
            # One live payout per withdrawal, whatever the key: a second could pay twice.
            # After a failure, a new attempt (a new key) may follow.
            raise ApiError(
                409,
                "invalid_request_error",
                "withdrawal_exists",
                "a payout for this withdrawal_id is pending or paid (under another key)",
                payout=existing,
            )
        outcome = self.outcomes.popleft() if self.outcomes else self.default_outcome
        if outcome.result == "rejected":
            error = ApiError(outcome.http_status, "payout_error", outcome.code, outcome.message)
            if outcome.http_status < 500:  # a server error is transient: a retry runs anew
                self.keys[key] = KeyRecord(fingerprint, error=error)
            raise error
        now = self.now()
        payout: JSONDict = {
            "id": new_id("po"),
            "object": "payout",
            **fields,
            "status": "pending",
            "failure_code": None,
            "failure_message": None,
            "created": now,
            "updated": now,
        }
        self.payouts[payout["id"]] = payout
        self.by_withdrawal[fields["withdrawal_id"]] = payout["id"]
        self.keys[key] = KeyRecord(fingerprint, payout_id=payout["id"])
        if outcome.result in FINAL:
            self._finish(payout, outcome.result, outcome)
        elif outcome.then is not None:
            self._settle_later(payout["id"], outcome)
        return PayoutAnswer(201, dict(payout))

    def payout(self, payout_id: str) -> JSONDict:
        payout = self.payouts.get(payout_id)
        if payout is None:
            raise ApiError(
                404, "invalid_request_error", "resource_missing", f"no payout {payout_id}"
            )
        return dict(payout)

    def payout_settle(
        self,
        payout_id: str,
        status: str,
        *,
        failure_code: str | None = None,
        failure_message: str | None = None,
    ) -> JSONDict:
        """A pending payout succeeds or fails now (control side); emits its webhook."""
        payout = self.payouts.get(payout_id)
        if payout is None:
            raise ControlError(f"no payout {payout_id}", code="payout_not_found", status=404)
        if status not in FINAL:
            raise ControlError(f"status is one of {FINAL}", code="invalid")
        if payout["status"] != "pending":
            raise ControlError(
                f"payout {payout_id} is {payout['status']}, not pending", code="not_pending"
            )
        default = Outcome()
        outcome = replace(
            default,
            failure_code=failure_code or default.failure_code,
            failure_message=failure_message or default.failure_message,
        )
        self._finish(payout, status, outcome)
        return dict(payout)

    def outcomes_add(self, outcomes: list[Outcome]) -> list[JSONDict]:
        self.outcomes.extend(outcomes)
        return [o.as_json() for o in self.outcomes]

    def _finish(self, payout: JSONDict, status: str, outcome: Outcome) -> None:
        payout["status"] = status
        payout["updated"] = self.now()
        if status == "failed":
            payout["failure_code"] = outcome.failure_code
            payout["failure_message"] = outcome.failure_message
        self.event_new(f"payout.{status}", dict(payout))

    def _settle_later(self, payout_id: str, outcome: Outcome) -> None:
        generation = self.generation

        def settle() -> None:
            with self.lock:
                payout = self.payouts.get(payout_id)
                # Settled by hand meanwhile, or the books were reset: nothing to do.
                if self.generation == generation and payout and payout["status"] == "pending":
                    assert outcome.then is not None
                    self._finish(payout, outcome.then, outcome)

        self.schedule(outcome.after, settle)

    def _payout_fields(self, body: JSONDict) -> JSONDict:
        unknown = sorted(set(body) - set(PAYOUT_FIELDS))
        if unknown:
            raise invalid(unknown[0], f"unknown parameter {unknown[0]}", "parameter_unknown")
        for name in PAYOUT_FIELDS:
            if body.get(name) in (None, ""):
                raise invalid(name, f"{name} is required", "parameter_missing")
        return {
            "withdrawal_id": _text("withdrawal_id", body["withdrawal_id"], 128),
            "currency": self._currency(body["currency"]),
            "amount": _amount(body["amount"]),
            "destination": _text("destination", body["destination"], 256),
        }

    def _currency(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.currencies:
            raise invalid("currency", f"currency is one of {', '.join(self.currencies)}")
        return value


def _text(name: str, value: Any, longest: int) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise invalid(name, f"{name} is a string of 1 to {longest} characters")
    return value


def _amount(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise invalid("amount", "amount is a positive integer in the currency's minor units")
    return value
