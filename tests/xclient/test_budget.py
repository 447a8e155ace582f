"""The rate-limit budget on real PostgreSQL: windows per credential and endpoint, renewed
after 15 minutes; priorities keeping headroom; equal parts for the tenants of a shared
credential; X's headers, 429s and server errors obeyed; and no slot spent twice by
concurrent processes."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from xclient.budget import budget_observe, budget_take
from xclient.models import Priority, RateWindow

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LIKERS = "GET /2/tweets/:id/liking_users"  # 75 per window, app or user
SEARCH = "GET /2/tweets/search/recent"  # 450 per app, 300 per user


def take(priority=Priority.VALIDATION, *, at=T0, endpoint=LIKERS, **kwargs):
    kwargs.setdefault("credential", "app:platform")
    return budget_take(endpoint=endpoint, priority=priority, now=at, **kwargs)


def test_a_window_holds_x_s_limit_and_opens_again_after_fifteen_minutes(db):
    granted = [take(at=T0 + timedelta(seconds=n)).granted for n in range(76)]
    assert granted == [True] * 75 + [False]
    refused = take(at=T0 + timedelta(minutes=14))
    assert (refused.granted, refused.reason) == (False, "window_full")
    assert refused.retry_at == T0 + timedelta(minutes=15)
    assert take(at=T0 + timedelta(minutes=15)).granted
    # Per credential and endpoint, and per kind of token.
    assert take(credential="app:t7").granted
    assert take(endpoint=SEARCH).granted
    assert take(credential="user:42", endpoint=SEARCH, user=True).granted
    assert RateWindow.objects.get(credential="user:42", endpoint=SEARCH).limit == 300


def test_lower_priorities_leave_headroom_for_higher_ones(db):
    kol = [take(Priority.KOL_METRICS).granted for _ in range(75)]
    assert kol.count(True) == 37  # half of 75
    mentions = [take(Priority.MENTIONS).granted for _ in range(75)]
    assert mentions.count(True) == 56 - 37  # up to 75% of the window in all
    forwarding = [take(Priority.FORWARDING).granted for _ in range(75)]
    assert forwarding.count(True) == 67 - 56
    validation = [take(Priority.VALIDATION).granted for _ in range(75)]
    assert validation.count(True) == 75 - 67


def test_tenants_of_a_shared_credential_get_equal_parts(make_tenant):
    a, b, c = make_tenant(), make_tenant(), make_tenant()
    shared = {"shared": True, "priority": Priority.VALIDATION}
    first = [take(tenant=a, **shared).granted for _ in range(5)]
    assert first == [True] * 5  # alone, a may use the whole window
    assert take(tenant=b, **shared).granted and take(tenant=c, **shared).granted
    # Three tenants active: each gets at most a third of the 75.
    a_more = [take(tenant=a, **shared).granted for _ in range(75)]
    assert a_more.count(True) == 25 - 5
    refused = take(tenant=a, **shared)
    assert (refused.granted, refused.reason) == (False, "tenant_share")
    b_more = [take(tenant=b, **shared).granted for _ in range(75)]
    assert b_more.count(True) == 25 - 1  # a's appetite did not eat b's part


def test_x_s_headers_correct_the_count_and_a_429_blocks_until_x_s_reset(db):
    assert take().granted
    reset = int((T0 + timedelta(minutes=9)).timestamp())
    budget_observe(
        credential="app:platform", endpoint=LIKERS, status=200, now=T0,
        headers={"x-rate-limit-limit": "75", "x-rate-limit-remaining": "3",
                 "x-rate-limit-reset": str(reset)},
    )  # fmt: skip
    assert [take().granted for _ in range(4)] == [True, True, True, False]
    budget_observe(
        credential="app:platform", endpoint=LIKERS, status=429, now=T0,
        headers={"x-rate-limit-reset": str(reset)},
    )  # fmt: skip
    blocked = take(at=T0 + timedelta(minutes=8))
    assert (blocked.granted, blocked.reason) == (False, "blocked")
    assert blocked.retry_at == T0 + timedelta(minutes=9)
    assert take(at=T0 + timedelta(minutes=9)).granted


def test_server_errors_back_off_exponentially_and_a_success_clears_them(db):
    waits = []
    at = T0
    for _ in range(5):
        assert take(at=at).granted
        row = budget_observe(credential="app:platform", endpoint=LIKERS, status=503, now=at)
        waits.append((row.blocked_until - at).total_seconds())
        assert take(at=at + timedelta(seconds=waits[-1] / 2)).reason == "blocked"
        at = row.blocked_until
    assert waits == [1, 2, 4, 8, 16]
    assert take(at=at).granted
    row = budget_observe(credential="app:platform", endpoint=LIKERS, status=200, now=at)
    assert row.failures == 0


def test_unknown_endpoints_and_tokens_x_does_not_take_are_refused(db):
    with pytest.raises(ValueError, match="no rate limit known"):
        take(endpoint="GET /2/spaces")
    with pytest.raises(ValueError, match="app token"):
        take(endpoint="GET /2/users/me")


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_never_spend_more_than_the_window():
    granted: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker() -> None:
        try:
            start.wait()
            mine = [take(at=T0).granted for _ in range(20)]
            with lock:
                granted.extend(mine)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert granted.count(True) == 75 and len(granted) == 120
    assert RateWindow.objects.get(credential="app:platform", endpoint=LIKERS).used == 75
