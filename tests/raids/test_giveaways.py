"""The draw: deterministic, re-runnable from the published data, uniform (no modulo
bias), and any tampering with the secret or the entrant list is caught."""

from __future__ import annotations

import collections
import hashlib
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raids import giveaways as g

SECRET = bytes(range(32))


def _published(entrants: list[int], winners: int, secret: bytes = SECRET) -> dict:
    ordered = g.entrants_order(entrants)
    return {
        "commitment": g.commitment_of(secret),
        "secret": secret.hex(),
        "entrants": ordered,
        "entrants_sha256": g.entrants_digest(ordered),
        "winners_count": winners,
        "winners": g.draw(secret=secret, entrants=ordered, winners=winners),
    }


def test_the_commitment_is_the_sha256_of_the_raw_secret() -> None:
    assert g.commitment_of(SECRET) == hashlib.sha256(SECRET).hexdigest()


def test_the_draw_is_deterministic_and_ignores_the_order_entrants_came_in() -> None:
    entrants = list(range(100, 200))
    first = g.draw(secret=SECRET, entrants=entrants, winners=5)
    assert first == g.draw(secret=SECRET, entrants=list(reversed(entrants)), winners=5)
    assert len(set(first)) == 5 and set(first) <= set(entrants)
    assert g.draw(secret=b"\x01" * 32, entrants=entrants, winners=5) != first


def test_fewer_entrants_than_winners_all_win_and_none_gives_none() -> None:
    assert sorted(g.draw(secret=SECRET, entrants=[3, 1, 2], winners=10)) == [1, 2, 3]
    assert g.draw(secret=SECRET, entrants=[], winners=3) == []


def test_a_published_draw_verifies() -> None:
    verdict = g.verify(_published(list(range(1, 50)), 3))
    assert verdict.ok, verdict.problems


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (lambda d: d.update(secret=(b"\x00" * 32).hex()), "commitment"),
        (lambda d: d.update(commitment="0" * 64), "commitment"),
        # A fake entrant added after the draw: the digest and the re-run disagree.
        (lambda d: d.update(entrants=sorted([*d["entrants"], 10_000])), "digest"),
        (lambda d: d.update(entrants=d["entrants"][1:]), "digest"),
        (lambda d: d.update(winners=list(reversed(d["winners"]))), "other winners"),
        (lambda d: d.update(entrants=list(reversed(d["entrants"]))), "ascending"),
    ],
)
def test_tampering_fails_verification(tamper, problem: str) -> None:
    data = _published(list(range(1, 50)), 3)
    tamper(data)
    verdict = g.verify(data)
    assert not verdict.ok
    assert any(problem in p for p in verdict.problems), verdict.problems


def test_a_changed_entrant_list_with_a_matching_digest_still_fails_the_rerun() -> None:
    data = _published(list(range(1, 50)), 3)
    data["entrants"] = list(range(2, 51))
    data["entrants_sha256"] = g.entrants_digest(data["entrants"])
    verdict = g.verify(data)
    assert not verdict.ok and verdict.problems == ["re-running the draw gives other winners"]


def test_malformed_data_is_a_failed_verification_not_a_crash() -> None:
    assert not g.verify({"secret": "zz"}).ok


def test_the_documented_snippet_agrees(tmp_path) -> None:
    data = _published(list(range(1, 300)), 7)
    (tmp_path / "result.json").write_text(json.dumps(data))
    run = subprocess.run(
        [sys.executable, "-c", g.VERIFY_SNIPPET], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.stdout.startswith("OK"), run.stderr
    assert len([line for line in g.VERIFY_SNIPPET.splitlines() if line.strip()]) <= 11
    data["winners"] = data["winners"][::-1]
    (tmp_path / "result.json").write_text(json.dumps(data))
    run = subprocess.run(
        [sys.executable, "-c", g.VERIFY_SNIPPET], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.stdout.startswith("MISMATCH")


# ---- no modulo bias ----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(n=st.integers(min_value=1, max_value=2**64), value=st.integers(0, 2**64 - 1))
def test_pick_rejects_exactly_the_biased_tail(n: int, value: int) -> None:
    """A value is accepted iff it lies in the largest multiple of n below 2**64: then every
    index has exactly floor(2**64 / n) accepted values mapping to it (uniform)."""
    limit = 2**64 - 2**64 % n
    values = iter([value, 0])  # 0 is always accepted
    index = g.pick_index(n, lambda: next(values))
    if value < limit:
        assert index == value % n
    else:
        assert index == 0  # the biased value was rejected and the next one used
    assert 0 <= index < n
    assert limit % n == 0 and 2**64 - limit < n


@settings(max_examples=50, deadline=None)
@given(n=st.integers(min_value=1, max_value=64))
def test_every_index_has_the_same_number_of_accepted_values_in_a_small_space(n: int) -> None:
    """The same rule over a 2**8 space, counted exhaustively."""
    space = 2**8
    limit = space - space % n
    counts = collections.Counter(v % n for v in range(space) if v < limit)
    assert set(counts) == set(range(n))
    assert len(set(counts.values())) == 1


def test_fairness_sanity_each_entrant_wins_about_equally_often() -> None:
    """2,000 draws of one winner among 10 with different secrets: every entrant wins,
    none far from 200 (a chi-square bound loose enough never to flake: p < 1e-9)."""
    wins = collections.Counter(
        g.draw(secret=hashlib.sha256(str(i).encode()).digest(), entrants=range(10), winners=1)[0]
        for i in range(2000)
    )
    assert set(wins) == set(range(10))
    chi2 = sum((c - 200) ** 2 / 200 for c in wins.values())
    assert chi2 < 50, wins
