"""The error every service raises when a business rule refuses an operation."""

from __future__ import annotations


class ServiceError(Exception):
    """Views answer it as ``{"detail": message, "code": code}`` (plus ``"errors"`` when
    it names fields) with HTTP ``status``;
    commands print the message and exit 2; bot handlers reply with the message."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        # Field path -> what is wrong with it: answered as "errors" next to detail.
        self.errors = errors or {}
        if status is not None:
            self.status = status
