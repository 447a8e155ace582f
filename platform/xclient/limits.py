"""X's rate limits for the endpoints the platform calls: requests per window, per app
(bearer token) and per user (OAuth 2.0 user token). From X's rate-limit table
(docs.x.com/x-api/fundamentals/rate-limits; tests/data/x_rate_limits_docs.yml, which a
test compares with this table)."""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_S = 15 * 60


@dataclass(frozen=True)
class EndpointLimit:
    per_app: int | None  # None: X does not serve it with an app token
    per_user: int | None  # None: not with a user token
    window_s: int = WINDOW_S


# "METHOD path" with X's placeholders, as in X's table.
LIMITS: dict[str, EndpointLimit] = {
    "GET /2/users": EndpointLimit(300, 900),
    "GET /2/users/by/username/:username": EndpointLimit(300, 900),
    "GET /2/users/:id": EndpointLimit(300, 900),
    "GET /2/users/me": EndpointLimit(None, 75),
    "GET /2/users/:id/tweets": EndpointLimit(10000, 900),
    "GET /2/users/:id/mentions": EndpointLimit(450, 300),
    "GET /2/users/:id/following": EndpointLimit(300, 300),
    "GET /2/users/:id/followers": EndpointLimit(300, 300),
    "GET /2/users/:id/liked_tweets": EndpointLimit(75, 75),
    "GET /2/tweets": EndpointLimit(3500, 5000),
    "GET /2/tweets/:id": EndpointLimit(450, 900),
    "GET /2/tweets/search/recent": EndpointLimit(450, 300),
    "GET /2/tweets/:id/liking_users": EndpointLimit(75, 75),
    "GET /2/tweets/:id/retweeted_by": EndpointLimit(75, 75),
    "GET /2/tweets/:id/quote_tweets": EndpointLimit(75, 75),
    "GET /2/tweets/search/stream": EndpointLimit(50, None),
    "GET /2/tweets/search/stream/rules": EndpointLimit(450, None),
    "POST /2/tweets/search/stream/rules": EndpointLimit(100, None),
}


def limit_of(endpoint: str, *, user: bool) -> int:
    """Requests per window for ``endpoint`` with a user token (``user``) or an app token;
    ValueError for an endpoint this table does not know or a token X does not take."""
    try:
        known = LIMITS[endpoint]
    except KeyError:
        raise ValueError(f"no rate limit known for {endpoint!r}") from None
    limit = known.per_user if user else known.per_app
    if limit is None:
        kind = "user" if user else "app"
        raise ValueError(f"X does not serve {endpoint!r} with an {kind} token")
    return limit
