"""The platform's rate-limit table says what X's own table says (tests/data/
x_rate_limits_docs.yml, extracted from docs.x.com/x-api/fundamentals/rate-limits)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xclient.limits import LIMITS, limit_of

X_TABLE = Path(__file__).resolve().parents[1] / "data" / "x_rate_limits_docs.yml"


def _x_rows() -> dict[str, dict]:
    table = yaml.safe_load(X_TABLE.read_text(encoding="utf-8"))
    return {f"{row['method']} {row['endpoint']}": row for row in table["endpoints"]}


@pytest.mark.parametrize("endpoint", sorted(LIMITS))
def test_each_limit_is_x_s(endpoint):
    row = _x_rows()[endpoint]
    ours = LIMITS[endpoint]
    for theirs, mine in ((row["per_app"], ours.per_app), (row["per_user"], ours.per_user)):
        if not theirs:
            assert mine is None
            continue
        assert [(w["requests"], w["window_seconds"]) for w in theirs] == [(mine, ours.window_s)]


def test_limit_of_picks_the_token_kind():
    assert limit_of("GET /2/tweets/search/recent", user=False) == 450
    assert limit_of("GET /2/tweets/search/recent", user=True) == 300
