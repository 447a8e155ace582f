"""The two kinds of failure: an answer of the provider's API (``/v1/...``), and a misuse of
the control side (``/control/...`` and the Python methods)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A ``/v1`` error answer: HTTP ``status`` and
    ``{"error": {"type", "code", "message", "param"?, ...}}`` like a card or crypto
    processor's API. ``type`` is "authentication_error", "invalid_request_error",
    "idempotency_error" or "payout_error"."""

    def __init__(self, status: int, type: str, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "code": code, "message": message, **extra}

    def body(self) -> dict[str, Any]:
        return {"error": dict(self.error)}


def invalid(param: str, message: str, code: str = "parameter_invalid") -> ApiError:
    return ApiError(400, "invalid_request_error", code, message, param=param)


class ControlError(ValueError):
    """A test or the page asked for something the provider has no such thing for (an
    unknown event, a payout that is not pending, ...); answered ``{"detail", "code"}``."""

    def __init__(self, detail: str, *, code: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
