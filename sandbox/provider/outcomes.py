"""Scripted payout outcomes: what the provider does with the next payouts it is asked for.

A test queues them (``POST /control/payouts/outcomes``); each new payout takes the first
one, or the server's default when the queue is empty. As JSON an outcome is a name or an
object with the same fields as ``Outcome``:

    "succeeded"                  paid at once: 201 with status "succeeded", then the webhook
    "failed"                     201 with status "failed" and a failure_code, then the webhook
    "rejected"                   refused outright: an error answer, no payout, no webhook
    "pending"                    201 "pending" until POST /control/payouts/{id}/settle
    "pending_then_succeeded"     201 "pending", settled "succeeded" ``after`` seconds later
    "pending_then_failed"        the same, settled "failed"
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from sandbox.provider.errors import ControlError

RESULTS = ("succeeded", "failed", "rejected", "pending")
FINAL = ("succeeded", "failed")


@dataclass(frozen=True)
class Outcome:
    result: str = "succeeded"
    then: str | None = None  # for "pending": settle to this after ``after`` seconds
    after: float = 0.0
    failure_code: str = "destination_rejected"  # for a failed payout
    failure_message: str = "The destination refused the transfer."
    http_status: int = 402  # for a rejected request
    code: str = "insufficient_funds"
    message: str = "The provider balance cannot cover this payout."

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"result": self.result}
        if self.result == "pending" and self.then:
            shown |= {"then": self.then, "after": self.after}
        if "failed" in (self.result, self.then):
            shown |= {"failure_code": self.failure_code, "failure_message": self.failure_message}
        if self.result == "rejected":
            shown |= {"http_status": self.http_status, "code": self.code, "message": self.message}
        return shown


def parse(value: Any) -> Outcome:
    """An Outcome from its JSON form (a name or an object), or ControlError."""
    if isinstance(value, str):
        head, _, then = value.partition("_then_")
        value = {"result": head, **({"then": then} if then else {})}
    if not isinstance(value, dict):
        raise ControlError("an outcome is a name or an object", code="invalid_outcome")
    known = {f.name for f in fields(Outcome)}
    unknown = set(value) - known
    if unknown:
        raise ControlError(f"unknown outcome fields: {sorted(unknown)}", code="invalid_outcome")
    try:
        outcome = replace(Outcome(), **value)
    except TypeError as exc:
        raise ControlError(str(exc), code="invalid_outcome") from None
    if outcome.result not in RESULTS:
        raise ControlError(f"result is one of {RESULTS}", code="invalid_outcome")
    if outcome.then is not None and (outcome.result != "pending" or outcome.then not in FINAL):
        raise ControlError(
            "then is for pending outcomes: succeeded or failed", code="invalid_outcome"
        )
    if not isinstance(outcome.after, int | float) or outcome.after < 0:
        raise ControlError("after is a number of seconds, 0 or more", code="invalid_outcome")
    if outcome.result == "rejected" and not 400 <= int(outcome.http_status) <= 599:
        raise ControlError("a rejection's http_status is 4xx or 5xx", code="invalid_outcome")
    return outcome
