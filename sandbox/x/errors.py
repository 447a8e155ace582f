"""X's error bodies. The API answers problems (RFC 7807-like objects with ``type``,
``title``, ``detail``); a missing resource in a lookup is a 200 with an ``errors`` entry,
not a 404, as X does."""

from __future__ import annotations

from typing import Any

PROBLEMS = "https://api.x.com/2/problems/"


class ApiError(Exception):
    """An API request X refuses: ``status`` and the JSON ``body`` it answers with."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("detail", ""))
        self.status = status
        self.body = body
        self.headers: dict[str, str] = {}  # the rate-limit headers, on a 429


class SandboxError(Exception):
    """Misuse of the control side (an unknown account, liking twice, ...)."""

    def __init__(self, detail: str, code: str = "invalid", status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.status = status


def problem(status: int, title: str, detail: str, kind: str, **extra: Any) -> ApiError:
    """An error X answers as a problem object: ``kind`` is its ``type`` URI."""
    return ApiError(
        status, {**extra, "title": title, "detail": detail, "type": kind, "status": status}
    )


def unauthorized() -> ApiError:
    return problem(401, "Unauthorized", "Unauthorized", "about:blank")


def unsupported_auth(supported: str) -> ApiError:
    return problem(
        403,
        "Unsupported Authentication",
        f"Authenticating with this token is forbidden for this endpoint. "
        f"Supported authentication types are [{supported}].",
        PROBLEMS + "unsupported-authentication",
    )


def too_many_requests() -> ApiError:
    return problem(429, "Too Many Requests", "Too Many Requests", "about:blank")


def too_many_connections() -> ApiError:
    return ApiError(
        429,
        {
            "title": "ConnectionException",
            "detail": "This stream is currently at the maximum allowed connection limit.",
            "connection_issue": "TooManyConnections",
            "type": PROBLEMS + "streaming-connection",
        },
    )


def invalid_request(message: str, parameter: str | None = None, value: Any = None) -> ApiError:
    error: dict[str, Any] = {"message": message}
    if parameter is not None:
        error["parameters"] = {parameter: [str(value)]}
    return problem(
        400,
        "Invalid Request",
        "One or more parameters to your request was invalid.",
        PROBLEMS + "invalid-request",
        errors=[error],
    )


def not_found(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    """The ``errors`` entry for an id or username that matches nothing."""
    noun = "tweet" if resource_type == "tweet" else "user"
    return {
        "value": value,
        "detail": f"Could not find {noun} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


def not_found_error(resource_type: str, parameter: str, value: str) -> ApiError:
    """A lookup of one missing resource: 200 with the error entry only (X's way)."""
    return ApiError(200, {"errors": [not_found(resource_type, parameter, value)]})
