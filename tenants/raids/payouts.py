"""How a raid's pool is shared: pure functions (no database), integer minor units.

Every formula follows the same rules:

- **Order.** Participants are ranked by points (most first), then by who joined first,
  then by participant id: ``ranked``. The order decides rank bands and the report's rows;
  it never depends on the database's row order.
- **Zero points scores nothing**, whatever the formula (an excluded participant is not
  given to these functions at all).
- **Never more than the pool.** Each share is rounded *down* to a whole minor unit; the
  minor units that rounding leaves (fewer than the number of payees) are not handed to
  anyone: they go back to the group with the rest of the pool. No "largest remainder"
  bonus that one participant would get over another with the same claim.
- **Fixed** (``per_task``): ``per_task`` for each verified task. When the pool cannot pay
  everyone that, every claim is scaled down by the same factor (``pool * claim //
  total claims``): nobody is paid in full at another's expense.
- **Points**: ``pool * points // total points``.
- **Ranks** (``bands``: ``[{"first": 1, "last": 3, "amount": 500}, ...]``): the payee at
  rank r (among those with points) gets the amount of the band containing r; ranks no
  band covers, and bands beyond the number of payees, are unpaid (their money returns).
  Bands worth more than the pool are scaled down as fixed claims are.
- **Threshold** (``min_points``): ``points`` among those with at least ``min_points``.

Example, a pool of 100 with points 50, 30, 20 and 0: points pays 50, 30, 20, 0;
threshold with ``min_points`` 30 pays 62, 37 (62.5 and 37.5 rounded down), 0, 0 and 1
returns to the group; bands ``1-1: 60, 2-3: 15`` pay 60, 15, 15, 0 and 10 returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from config.errors import ServiceError

FORMULAS = ("fixed", "points", "ranks", "threshold")
MAX_BANDS = 50
MAX_PARAM = 10**15  # minor units or points: far above any pool, far below int64


@dataclass(frozen=True)
class Entrant:
    """One participant as the formulas see them."""

    id: int  # the participant's id (the last tie-break)
    points: int
    tasks: int  # verified tasks
    joined_at: datetime


def ranked(entrants: Iterable[Entrant]) -> list[Entrant]:
    """Most points first, then the earlier join, then the lower id."""
    return sorted(entrants, key=lambda e: (-e.points, e.joined_at, e.id))


def _invalid(message: str) -> ServiceError:
    return ServiceError(message, code="invalid_formula_params")


def _whole(params: Mapping[str, Any], name: str, *, minimum: int = 0) -> int:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(f"{name} must be a whole number")
    if not minimum <= value <= MAX_PARAM:
        raise _invalid(f"{name} must be from {minimum} to {MAX_PARAM}")
    return value


def params_check(formula: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The formula's parameters, normalised; 400 ``invalid_formula_params`` naming what is
    wrong (creation calls this before escrowing anything)."""
    if not isinstance(params, Mapping):
        raise _invalid("formula_params must be an object")
    if formula == "points":
        if params:
            raise _invalid("the points formula takes no parameters")
        return {}
    if formula == "fixed":
        _only(params, {"per_task"})
        return {"per_task": _whole(params, "per_task", minimum=1)}
    if formula == "threshold":
        _only(params, {"min_points"})
        return {"min_points": _whole(params, "min_points", minimum=1)}
    if formula == "ranks":
        _only(params, {"bands"})
        return {"bands": _bands_check(params.get("bands"))}
    raise _invalid(f"formula must be one of {', '.join(FORMULAS)}")


def _only(params: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise _invalid(f"unknown parameter(s): {', '.join(unknown)}")


def _bands_check(raw: object) -> list[dict[str, int]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BANDS:
        raise _invalid(f"bands must be a list of 1 to {MAX_BANDS} bands")
    bands: list[dict[str, int]] = []
    previous_last = 0
    for band in raw:
        if not isinstance(band, Mapping) or set(band) != {"first", "last", "amount"}:
            raise _invalid("each band is {first, last, amount}")
        first = _whole(band, "first", minimum=1)
        last = _whole(band, "last", minimum=first)
        amount = _whole(band, "amount", minimum=1)
        if first <= previous_last:
            raise _invalid("bands must be in rank order and must not overlap")
        previous_last = last
        bands.append({"first": first, "last": last, "amount": amount})
    return bands


def _pro_rata(pool: int, weights: Mapping[int, int]) -> dict[int, int]:
    """``pool * weight // total`` each: rounded down, so the sum never exceeds the pool."""
    total = sum(weights.values())
    if total <= 0:
        return {key: 0 for key in weights}
    return {key: pool * weight // total for key, weight in weights.items()}


def _capped(pool: int, claims: Mapping[int, int]) -> dict[int, int]:
    """Claims paid in full when the pool covers them all, else scaled down pro rata."""
    if sum(claims.values()) <= pool:
        return dict(claims)
    return _pro_rata(pool, claims)


def compute(
    *, formula: str, params: Mapping[str, Any], pool: int, entrants: Sequence[Entrant]
) -> dict[int, int]:
    """Each entrant's amount (entrant id → minor units, 0 included): never negative, and
    their sum never exceeds ``pool`` (the rest returns to the group)."""
    if pool < 0:
        raise ValueError("the pool cannot be negative")
    checked = params_check(formula, params)
    scoring = [e for e in ranked(entrants) if e.points > 0]
    amounts = {e.id: 0 for e in entrants}
    if formula == "points":
        amounts.update(_pro_rata(pool, {e.id: e.points for e in scoring}))
    elif formula == "threshold":
        qualified = {e.id: e.points for e in scoring if e.points >= checked["min_points"]}
        amounts.update(_pro_rata(pool, qualified))
    elif formula == "fixed":
        claims = {e.id: checked["per_task"] * e.tasks for e in scoring}
        amounts.update(_capped(pool, claims))
    else:  # ranks
        claims = {}
        for rank, entrant in enumerate(scoring, start=1):
            band = next((b for b in checked["bands"] if b["first"] <= rank <= b["last"]), None)
            if band is not None:
                claims[entrant.id] = band["amount"]
        amounts.update(_capped(pool, claims))
    return amounts
