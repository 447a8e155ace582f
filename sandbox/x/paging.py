"""Paging as X does it: ``max_results`` within each endpoint's bounds (400 outside),
opaque ``next_token``/``pagination_token`` values, and ``since_id``/``until_id``/
``start_time``/``end_time`` windows on post timelines.

A token names the sort key of the last item served, not an offset, so posts arriving
between two pages neither repeat nor skip an item."""

from __future__ import annotations

import base64
from typing import Any, TypeVar

from sandbox.x.clock import parse_iso
from sandbox.x.errors import invalid_request
from sandbox.x.world import Post

T = TypeVar("T")


def encode_token(key: int) -> str:
    return base64.b32hexencode(str(key).encode()).decode().rstrip("=").lower()


def decode_token(token: str, parameter: str) -> int:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        return int(base64.b32hexdecode(padded).decode())
    except ValueError:
        raise invalid_request(
            f"The `{parameter}` query parameter value [{token}] is not a valid token",
            parameter,
            token,
        ) from None


def max_results(query: dict[str, str], low: int, high: int, default: int) -> int:
    raw = query.get("max_results")
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise invalid_request(
            f"The `max_results` query parameter value [{raw}] is not between {low} and {high}",
            "max_results",
            raw,
        )
    return int(raw)


def snowflake(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise invalid_request(
            f"The `{name}` query parameter value [{raw}] does not match ^[0-9]{{1,19}}$", name, raw
        )
    return int(raw)


def _time(query: dict[str, str], name: str) -> float | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError:
        raise invalid_request(
            f"The `{name}` query parameter value [{raw}] is not a valid RFC 3339 date-time",
            name,
            raw,
        ) from None


def in_window(posts: list[Post], query: dict[str, str]) -> list[Post]:
    """The posts inside since_id/until_id (exclusive) and start_time/end_time."""
    since, until = snowflake(query, "since_id"), snowflake(query, "until_id")
    start, end = _time(query, "start_time"), _time(query, "end_time")
    return [
        p
        for p in posts
        if (since is None or int(p.id) > since)
        and (until is None or int(p.id) < until)
        and (start is None or p.created_at >= start)
        and (end is None or p.created_at <= end)
    ]


def page(
    keyed: list[tuple[int, T]], query: dict[str, str], size: int, token_names: tuple[str, ...]
) -> tuple[list[T], str | None]:
    """One page of ``keyed`` (sorted by key, descending) and the next page's token."""
    rest = keyed
    for name in token_names:
        if query.get(name):
            after = decode_token(query[name], name)
            rest = [(k, item) for k, item in keyed if k < after]
            break
    chunk = rest[:size]
    more = len(rest) > size
    return [item for _, item in chunk], encode_token(chunk[-1][0]) if more else None


def meta(items: list[Any], next_token: str | None, *, posts: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"result_count": len(items)}
    if posts and items:
        out["newest_id"] = items[0]["id"]
        out["oldest_id"] = items[-1]["id"]
    if next_token:
        out["next_token"] = next_token
    return out
