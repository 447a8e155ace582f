"""The giveaway draw: a deterministic function of (secret, entrants, winners), so anyone
holding the published data can re-run it. Pure: no database, no clock.

Commit-reveal: at creation the platform draws a random 32-byte ``secret`` and publishes
``commitment = sha256(secret)`` (hex). At the draw it reveals the secret; the draw is

1. ``entrants``: the distinct Telegram user ids, sorted ascending;
2. a stream of 64-bit numbers ``r_i = first 8 bytes (big-endian) of
   sha256(secret || i as 8 bytes big-endian)`` for i = 0, 1, 2, ...;
3. while winners are missing and entrants remain: with ``n`` entrants remaining, take
   the next ``r``; if ``r >= 2**64 - (2**64 mod n)`` reject it (rejection sampling: the
   accepted values cover each index equally, no modulo bias); else the winner is
   ``remaining.pop(r mod n)`` (without replacement).

Fewer entrants than winners: everyone wins (in drawn order). ``VERIFY_SNIPPET`` is this
in eleven lines of plain Python (docs/architecture.md prints it)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ALGORITHM = "sha256-counter-rejection-v1"
SECRET_BYTES = 32
SPACE = 2**64


def commitment_of(secret: bytes) -> str:
    """The published commitment: hex SHA-256 of the raw secret bytes."""
    return hashlib.sha256(secret).hexdigest()


def entrants_order(user_ids: Iterable[int]) -> list[int]:
    """The canonical entrant list the draw runs on: distinct ids, ascending."""
    return sorted(set(user_ids))


def entrants_digest(entrants: Sequence[int]) -> str:
    """Hex SHA-256 of the ordered list, one decimal id per line (no trailing newline):
    lets someone holding the list from elsewhere check it is the one drawn."""
    return hashlib.sha256("\n".join(str(i) for i in entrants).encode()).hexdigest()


def random_stream(secret: bytes) -> Callable[[], int]:
    """The draw's 64-bit numbers: sha256(secret || counter), counter from 0."""
    counter = 0

    def next_value() -> int:
        nonlocal counter
        block = hashlib.sha256(secret + counter.to_bytes(8, "big")).digest()
        counter += 1
        return int.from_bytes(block[:8], "big")

    return next_value


def pick_index(n: int, next_value: Callable[[], int]) -> int:
    """A uniform index in [0, n) from 64-bit values, rejecting the values of the last
    incomplete block of ``n`` (those would favour the low indexes)."""
    if n < 1:
        raise ValueError("nothing to pick from")
    limit = SPACE - SPACE % n
    while True:
        value = next_value()
        if value < limit:
            return value % n


def draw(*, secret: bytes, entrants: Sequence[int], winners: int) -> list[int]:
    """The winners, in drawn order (rank 1 first)."""
    if winners < 1:
        raise ValueError("winners must be at least 1")
    remaining = entrants_order(entrants)
    next_value = random_stream(secret)
    chosen: list[int] = []
    while remaining and len(chosen) < winners:
        chosen.append(remaining.pop(pick_index(len(remaining), next_value)))
    return chosen


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problems: list[str]
    winners: list[int]  # as re-run from the published data


def verify(result: dict[str, Any]) -> Verdict:
    """Re-run a published draw (``Giveaway.result``): the secret matches the commitment,
    the entrant list matches its digest and is in canonical order, and the draw gives
    the published winners."""
    problems: list[str] = []
    try:
        secret = bytes.fromhex(str(result["secret"]))
        entrants = [int(i) for i in result["entrants"]]
        winners_count = int(result["winners_count"])
        published = [int(i) for i in result["winners"]]
        commitment = str(result["commitment"])
    except (KeyError, TypeError, ValueError) as exc:
        return Verdict(False, [f"the published data is incomplete or malformed: {exc}"], [])
    if not hmac.compare_digest(commitment_of(secret), commitment.lower()):
        problems.append("sha256(secret) does not match the commitment")
    if entrants != entrants_order(entrants):
        problems.append("the entrant list is not distinct ids in ascending order")
    digest = result.get("entrants_sha256")
    if digest is not None and digest != entrants_digest(entrants):
        problems.append("the entrant list does not match its published digest")
    rerun = draw(secret=secret, entrants=entrants, winners=winners_count) if winners_count else []
    if rerun != published:
        problems.append("re-running the draw gives other winners")
    return Verdict(not problems, problems, rerun)


# The verification anyone can run on a published result.json (docs/architecture.md).
VERIFY_SNIPPET = """\
import hashlib, json

d = json.load(open("result.json"))
secret = bytes.fromhex(d["secret"])
assert hashlib.sha256(secret).hexdigest() == d["commitment"], "secret/commitment"
pool, winners, i = sorted(set(d["entrants"])), [], 0
while pool and len(winners) < d["winners_count"]:
    r = int.from_bytes(hashlib.sha256(secret + i.to_bytes(8, "big")).digest()[:8], "big")
    i += 1
    if r < 2**64 - 2**64 % len(pool):
        winners.append(pool.pop(r % len(pool)))
print("OK" if winners == d["winners"] else "MISMATCH", winners)
"""
