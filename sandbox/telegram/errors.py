"""The two kinds of failure: a Bot API error answer, and a misuse of the control side."""

from __future__ import annotations


class ApiError(Exception):
    """A Bot API error answer: HTTP status = ``error_code``, Telegram's ``description``, and
    ``parameters`` (``retry_after`` for 429) when Telegram sends them."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None):
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict:
        body: dict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(what: str) -> ApiError:
    return ApiError(400, f"Bad Request: {what}")


def forbidden(what: str) -> ApiError:
    return ApiError(403, f"Forbidden: {what}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


def required(name: str) -> ApiError:
    return bad_request(f'parameter "{name}" is required')


QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


class SandboxError(ValueError):
    """A test or the web page asked the sandbox for something Telegram would not let a user
    do (send to a group they are not in, press a button that does not exist, ...).
    The control API answers it as ``{"detail", "code"}`` with ``status``."""

    def __init__(self, detail: str, *, code: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status
