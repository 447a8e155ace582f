"""The payout formulas: the examples of their documentation, the tie-break, the cap and,
as properties over random raids, what every formula guarantees (never above the pool,
never negative, zero points paid nothing, more points never paid less)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.errors import ServiceError
from raids.payouts import Entrant, compute, params_check, ranked

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entrants(*points: int, tasks: tuple[int, ...] | None = None) -> list[Entrant]:
    return [
        Entrant(id=n + 1, points=p, tasks=(tasks[n] if tasks else 1), joined_at=T0)
        for n, p in enumerate(points)
    ]


def paid(formula: str, params: dict, pool: int, people: list[Entrant]) -> list[int]:
    amounts = compute(formula=formula, params=params, pool=pool, entrants=people)
    return [amounts[e.id] for e in people]


def test_the_documented_examples():
    people = entrants(50, 30, 20, 0)
    assert paid("points", {}, 100, people) == [50, 30, 20, 0]
    assert paid("threshold", {"min_points": 30}, 100, people) == [62, 37, 0, 0]
    bands = [{"first": 1, "last": 1, "amount": 60}, {"first": 2, "last": 3, "amount": 15}]
    assert paid("ranks", {"bands": bands}, 100, people) == [60, 15, 15, 0]


def test_rounding_down_returns_the_odd_units_to_the_group_not_to_a_participant():
    # Three equal claims on 100: 33 each; the 1 left is nobody's.
    assert paid("points", {}, 100, entrants(1, 1, 1)) == [33, 33, 33]


def test_fixed_pays_per_verified_task_and_scales_down_when_the_pool_is_short():
    people = entrants(10, 10, 10, tasks=(1, 2, 3))
    assert paid("fixed", {"per_task": 5}, 1000, people) == [5, 10, 15]
    # 60 claimed of a pool of 30: everyone gets half, nobody is paid in full first.
    assert paid("fixed", {"per_task": 10}, 30, people) == [5, 10, 15]
    # Verified tasks but zero points (the tasks scored nothing): nothing.
    assert paid("fixed", {"per_task": 5}, 1000, entrants(0, tasks=(3,))) == [0]


def test_ranks_break_ties_by_points_then_earlier_join_then_id():
    late, early = T0 + timedelta(minutes=1), T0
    people = [
        Entrant(id=1, points=10, tasks=1, joined_at=late),
        Entrant(id=2, points=10, tasks=1, joined_at=early),
        Entrant(id=4, points=10, tasks=1, joined_at=late),
        Entrant(id=3, points=20, tasks=1, joined_at=late),
    ]
    assert [e.id for e in ranked(people)] == [3, 2, 1, 4]
    bands = [{"first": 1, "last": 2, "amount": 7}]
    assert compute(formula="ranks", params={"bands": bands}, pool=100, entrants=people) == {
        1: 0,
        2: 7,
        3: 7,
        4: 0,
    }


def test_bands_beyond_the_payees_are_unpaid_and_bands_above_the_pool_scale_down():
    bands = [{"first": 1, "last": 1, "amount": 50}, {"first": 2, "last": 10, "amount": 30}]
    assert paid("ranks", {"bands": bands}, 1000, entrants(5, 4)) == [50, 30]
    assert paid("ranks", {"bands": bands}, 40, entrants(5, 4)) == [25, 15]


@pytest.mark.parametrize(
    ("formula", "params", "message"),
    [
        ("points", {"x": 1}, "takes no parameters"),
        ("fixed", {}, "per_task must be a whole number"),
        ("fixed", {"per_task": 0}, "per_task must be from 1"),
        ("fixed", {"per_task": True}, "per_task must be a whole number"),
        ("threshold", {"min_points": "5"}, "min_points must be a whole number"),
        ("ranks", {"bands": []}, "bands must be a list"),
        ("ranks", {"bands": [{"first": 2, "last": 1, "amount": 1}]}, "last must be from 2"),
        (
            "ranks",
            {"bands": [{"first": 1, "last": 3, "amount": 1}, {"first": 3, "last": 4, "amount": 1}]},
            "must not overlap",
        ),
        ("lottery", {}, "formula must be one of"),
    ],
)
def test_bad_params_are_refused_naming_the_problem(formula, params, message):
    with pytest.raises(ServiceError, match=message) as caught:
        params_check(formula, params)
    assert caught.value.code == "invalid_formula_params"


BANDS = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 1_000)), min_size=1, max_size=4).map(
    lambda widths: [
        {
            "first": 1 + sum(w for w, _ in widths[:i]),
            "last": sum(w for w, _ in widths[: i + 1]),
            "amount": a,
        }
        for i, (_, a) in enumerate(widths)
    ]
)
FORMULAS = st.one_of(
    st.just(("points", {})),
    st.integers(1, 50).map(lambda m: ("threshold", {"min_points": m})),
    st.integers(1, 10_000).map(lambda p: ("fixed", {"per_task": p})),
    BANDS.map(lambda b: ("ranks", {"bands": b})),
)
PEOPLE = st.lists(
    st.tuples(st.integers(0, 100), st.integers(0, 5), st.integers(0, 3)), max_size=40
).map(
    lambda rows: [
        Entrant(id=n + 1, points=p, tasks=t, joined_at=T0 + timedelta(seconds=s))
        for n, (p, t, s) in enumerate(rows)
    ]
)


@settings(max_examples=300, deadline=None)
@given(formula=FORMULAS, pool=st.integers(0, 10**12), people=PEOPLE)
def test_never_above_the_pool_never_negative_zero_points_nothing(formula, pool, people):
    name, params = formula
    amounts = compute(formula=name, params=params, pool=pool, entrants=people)
    assert set(amounts) == {e.id for e in people}
    assert sum(amounts.values()) <= pool
    assert all(amount >= 0 for amount in amounts.values())
    assert all(amounts[e.id] == 0 for e in people if e.points == 0)
    # Deterministic whatever order the rows came in.
    assert compute(formula=name, params=params, pool=pool, entrants=people[::-1]) == amounts


@settings(max_examples=300, deadline=None)
@given(
    formula=st.one_of(
        st.just(("points", {})), st.integers(1, 50).map(lambda m: ("threshold", {"min_points": m}))
    ),
    pool=st.integers(0, 10**12),
    people=PEOPLE,
)
def test_more_points_are_never_paid_less(formula, pool, people):
    name, params = formula
    amounts = compute(formula=name, params=params, pool=pool, entrants=people)
    by_points = sorted(people, key=lambda e: e.points)
    for lower, higher in itertools.pairwise(by_points):
        assert amounts[lower.id] <= amounts[higher.id]


@settings(max_examples=200, deadline=None)
@given(pool=st.integers(1, 10**9), people=PEOPLE.filter(lambda p: any(e.points for e in p)))
def test_points_leaves_less_than_one_unit_per_payee(pool, people):
    amounts = compute(formula="points", params={}, pool=pool, entrants=people)
    payees = sum(1 for e in people if e.points > 0)
    assert pool - sum(amounts.values()) < payees
