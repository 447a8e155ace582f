"""``WalletError``: a refused money movement, with a stable ``code`` callers branch on."""

from __future__ import annotations

from config.errors import ServiceError

# code → HTTP status an API answers with
STATUS = {
    "insufficient_funds": 409,
    "idempotency_conflict": 409,
    "hold_closed": 409,
    "exceeds_hold": 409,
    "account_not_found": 404,
    "no_provider": 503,
    "spending_frozen": 409,
}


class WalletError(ServiceError):
    """Codes: ``invalid_amount``, ``invalid_kind``, ``invalid_key``, ``invalid_account``,
    ``same_account``, ``currency_mismatch``, ``unknown_currency``, ``account_not_in_tenant``,
    ``account_not_found``, ``insufficient_funds``, ``idempotency_conflict``, ``hold_closed``,
    ``exceeds_hold``, ``spending_frozen``."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code, status=STATUS.get(code, 400))


# SQLSTATEs raised by the database function wallet_transfer_post (migration 0002).
SQLSTATE_CODES = {
    "WL001": "insufficient_funds",
    "WL002": "idempotency_conflict",
    "WL003": "currency_mismatch",
    "WL004": "account_not_in_tenant",
    "WL005": "account_not_found",
}
