"""X's rate limits: fixed windows per endpoint and per credential. An app's bearer token
counts against ``per_app``; a user token against ``per_user`` (per user and app). Every
answer carries ``x-rate-limit-limit``, ``-remaining`` and ``-reset`` (epoch seconds of the
sandbox clock when the window ends); a request over the limit gets 429 and does not count.

The numbers are X's published table (docs.x.com/x-api/fundamentals/rate-limits, copied
in tests/data/x_rate_limits_docs.yml, which tests/sandbox_x checks this table against).
An endpoint with no per_app number is user-context only; one with no per_user number is
app-only."""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.clock import Clock
from sandbox.x.errors import too_many_requests

WINDOW = 900  # 15 minutes

# (method, endpoint as in X's docs): (per_app requests, per_user requests); None = "—".
TABLE: dict[tuple[str, str], tuple[int | None, int | None]] = {
    ("GET", "/2/tweets"): (3500, 5000),
    ("GET", "/2/tweets/:id"): (450, 900),
    ("GET", "/2/tweets/search/recent"): (450, 300),
    ("GET", "/2/tweets/search/stream"): (50, None),
    ("GET", "/2/tweets/search/stream/rules"): (450, None),
    ("POST", "/2/tweets/search/stream/rules"): (100, None),
    ("GET", "/2/users/:id/tweets"): (10000, 900),
    ("GET", "/2/users/:id/mentions"): (450, 300),
    ("GET", "/2/tweets/:id/liking_users"): (75, 75),
    ("GET", "/2/tweets/:id/retweeted_by"): (75, 75),
    ("GET", "/2/tweets/:id/quote_tweets"): (75, 75),
    ("GET", "/2/users"): (300, 900),
    ("GET", "/2/users/:id"): (300, 900),
    ("GET", "/2/users/by/username/:username"): (300, 900),
    ("GET", "/2/users/me"): (None, 75),
    ("GET", "/2/users/:id/following"): (300, 300),
    ("GET", "/2/users/:id/followers"): (300, 300),
    ("GET", "/2/users/:id/liked_tweets"): (75, 75),
}
# Endpoints X's OpenAPI spec serves to user tokens only (its ``security`` lists no app
# bearer token) although the rate-limit table has a per-app number for them: an app
# token gets 403 "Unsupported Authentication".
USER_CONTEXT_ONLY: frozenset[tuple[str, str]] = frozenset({("GET", "/2/users/:id/liked_tweets")})


@dataclass(frozen=True)
class Limits:
    """``Limits()`` enforces X's table; ``Limits.off()`` only reports the headers;
    ``overrides`` replaces rows, e.g. ``{("GET", "/2/users/me"): (None, 3)}``."""

    enabled: bool = True
    overrides: dict[tuple[str, str], tuple[int | None, int | None]] = field(default_factory=dict)

    @classmethod
    def off(cls) -> Limits:
        return cls(enabled=False)

    def row(self, method: str, endpoint: str) -> tuple[int | None, int | None]:
        key = (method, endpoint)
        return self.overrides.get(key) or TABLE[key]


@dataclass
class _Window:
    start: float
    used: int = 0


class RateLimiter:
    """Counts requests per (endpoint, credential). Not thread-safe: called on the loop."""

    def __init__(self, limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self._windows: dict[tuple, _Window] = {}

    def reset(self) -> None:
        self._windows.clear()

    def take(
        self, method: str, endpoint: str, credential: tuple, user_context: bool
    ) -> dict[str, str]:
        """Count one request; return the headers, or raise ApiError 429 carrying them."""
        per_app, per_user = self.limits.row(method, endpoint)
        limit = (per_user if user_context else per_app) or 0
        now = self.clock()
        key = (method, endpoint, credential)
        window = self._windows.get(key)
        if window is None or now >= window.start + WINDOW:
            window = self._windows[key] = _Window(start=now)
        over = self.limits.enabled and window.used >= limit
        if not over:
            window.used += 1
        headers = {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(limit - window.used, 0)),
            "x-rate-limit-reset": str(int(window.start + WINDOW)),
        }
        if over:
            error = too_many_requests()
            error.headers = headers
            raise error
        return headers
