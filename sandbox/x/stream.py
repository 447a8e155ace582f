"""The filtered stream: each app's rules, and its open connections. X allows one
connection per app (a second is refused 429 TooManyConnections), sends a keep-alive
``\\r\\n`` every 20 seconds, and tags each post with the rules it matched."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.x.query import Match, QueryError, Searchable, parse

MAX_RULE_LENGTH = 512  # X's rule length on the self-serve tiers
MAX_RULES = 1000
HEARTBEAT_SECONDS = 20.0


@dataclass
class Rule:
    id: str
    value: str
    tag: str | None
    match: Match

    def public(self) -> dict[str, str]:
        out = {"id": self.id, "value": self.value}
        if self.tag:
            out["tag"] = self.tag
        return out


def check_rule(value: str) -> Match:
    """A rule's predicate, or QueryError (length included)."""
    if len(value) > MAX_RULE_LENGTH:
        raise QueryError(
            f"Rule is too long: {len(value)} characters (the limit is {MAX_RULE_LENGTH})."
        )
    return parse(value, max_length=MAX_RULE_LENGTH)


@dataclass
class Connection:
    """One open stream: posts (JSON lines) are queued from any thread; None ends it."""

    app_id: str
    query: dict[str, str]
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def push(self, item: tuple[str, list[dict]] | None) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


class Streams:
    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.rules: dict[str, list[Rule]] = {}  # app id -> rules, oldest first
        self.connections: dict[str, Connection] = {}  # app id -> its one connection

    def matching(self, app_id: str, searchable: Searchable) -> list[dict[str, str]]:
        rules = [r for r in self.rules.get(app_id, []) if r.match(searchable)]
        # X sends "tag" always ("" for an untagged rule); tweepy reads it unconditionally.
        return [{"id": r.id, "tag": r.tag or ""} for r in rules]

    def disconnect(self, app_id: str | None = None) -> int:
        """End the open connections (of one app, or all); return how many."""
        ended = [c for a, c in list(self.connections.items()) if app_id in (None, a)]
        for connection in ended:
            self.connections.pop(connection.app_id, None)
            connection.push(None)
        return len(ended)


# ---- GET/POST /2/tweets/search/stream/rules -------------------------------------------
def get_rules(streams: Streams, app_id: str, query: dict[str, str], sent: str) -> dict:
    rules = streams.rules.get(app_id, [])
    ids = set(filter(None, query.get("ids", "").split(",")))
    chosen = [r.public() for r in rules if not ids or r.id in ids]
    body: dict = {"meta": {"sent": sent, "result_count": len(chosen)}}
    if chosen:
        body["data"] = chosen
    return body


def update_rules(
    streams: Streams,
    app_id: str,
    payload: object,
    dry_run: bool,
    sent: str,
    new_id: Callable[[], str],
) -> tuple[int, dict]:
    """Add or delete rules (``dry_run``: only check them); the status and X's answer."""
    if not isinstance(payload, dict) or len(payload) != 1 or not set(payload) <= {"add", "delete"}:
        return 400, _invalid_body("The body must hold exactly one of 'add' or 'delete'.")
    rules = streams.rules.setdefault(app_id, [])
    if "delete" in payload:
        ids = payload["delete"].get("ids") if isinstance(payload["delete"], dict) else None
        values = payload["delete"].get("values") if isinstance(payload["delete"], dict) else None
        if not isinstance(ids or values, list):
            return 400, _invalid_body("'delete' needs 'ids' or 'values', a list.")
        wanted = [str(v) for v in (ids or values or [])]
        key = "id" if ids else "value"
        found = [r for r in rules if getattr(r, key) in wanted]
        errors = [
            {
                "title": "Not Found Error" if ids else "NotFound",
                "type": "https://api.x.com/2/problems/resource-not-found",
                "detail": f"No rule with {key} {w}.",
                "resource_type": "rule",
                "value": w,
            }
            for w in wanted
            if w not in {getattr(r, key) for r in found}
        ]
        if not dry_run:
            streams.rules[app_id] = [r for r in rules if r not in found]
        body: dict = {
            "meta": {
                "sent": sent,
                "summary": {"deleted": len(found), "not_deleted": len(wanted) - len(found)},
            }
        }
        if errors:
            body["errors"] = errors
        return 200, body
    adds = payload["add"]
    if not isinstance(adds, list) or not all(isinstance(a, dict) and "value" in a for a in adds):
        return 400, _invalid_body('\'add\' must be a list of {"value", "tag"} objects.')
    created: list[Rule] = []
    refusals: list[dict[str, object]] = []
    invalid = 0
    existing = {r.value for r in rules}
    for spec in adds:
        value, tag = str(spec["value"]), spec.get("tag")
        try:
            match = check_rule(value)
        except QueryError as exc:
            invalid += 1
            refusals.append(
                {
                    "value": value,
                    "details": [str(exc)],
                    "title": "UnprocessableEntity",
                    "type": "https://api.x.com/2/problems/invalid-rules",
                }
            )
            continue
        if value in existing:
            refusals.append(
                {
                    "value": value,
                    "id": next(r.id for r in rules if r.value == value),
                    "title": "DuplicateRule",
                    "type": "https://api.x.com/2/problems/duplicate-rules",
                }
            )
            continue
        existing.add(value)
        created.append(Rule(new_id(), value, str(tag) if tag else None, match))
    if len(rules) + len(created) > MAX_RULES:
        return 400, _invalid_body(f"An app may have at most {MAX_RULES} rules.")
    summary = {
        "created": 0 if dry_run or invalid else len(created),
        "not_created": len(adds) - (0 if dry_run or invalid else len(created)),
        "valid": len(adds) - invalid,
        "invalid": invalid,
    }
    body = {"meta": {"sent": sent, "summary": summary}}
    if created and not invalid:
        body["data"] = [r.public() for r in created]
    if refusals:
        body["errors"] = refusals
    if invalid:  # X adds none of a request holding an invalid rule
        return 400, body
    if not dry_run:
        rules.extend(created)
    return 200, body


def _invalid_body(message: str) -> dict:
    return {
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
    }
