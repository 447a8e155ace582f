"""Rate limits: X's table, headers on every answer, 429 past the limit until the
15-minute window ends on the clock, and separate counts per credential."""

from __future__ import annotations

import pytest
import tweepy
import yaml

from sandbox.x import SandboxX
from sandbox.x.limits import TABLE, Limits
from tests.sandbox_x.helpers import DATA, OTHER_TOKEN, TOKEN, client, get


def test_the_table_is_x_published_one():
    docs = yaml.safe_load((DATA / "x_rate_limits_docs.yml").read_text())
    published = {(row["method"], row["endpoint"]): row for row in docs["endpoints"]}
    for key, (per_app, per_user) in TABLE.items():
        row = published[key]
        assert [(w["requests"], w["window_seconds"]) for w in row["per_app"]] == (
            [(per_app, 900)] if per_app else []
        ), key
        assert [(w["requests"], w["window_seconds"]) for w in row["per_user"]] == (
            [(per_user, 900)] if per_user else []
        ), key


def test_headers_count_down_and_the_limit_refuses_then_resets(limited, clock):
    limited.add_account("alice")
    limit = TABLE[("GET", "/2/users/by/username/:username")][0]  # 300 per app
    first = get(limited, "/2/users/by/username/alice")
    reset = int(first.headers["x-rate-limit-reset"])
    assert first.headers["x-rate-limit-limit"] == str(limit)
    assert first.headers["x-rate-limit-remaining"] == str(limit - 1)
    assert reset == int(clock()) + 900
    for _ in range(limit - 2):
        get(limited, "/2/users/by/username/alice")
    last = get(limited, "/2/users/by/username/alice")
    assert (last.status_code, last.headers["x-rate-limit-remaining"]) == (200, "0")
    refused = get(limited, "/2/users/by/username/alice")
    assert refused.status_code == 429
    assert refused.json()["title"] == "Too Many Requests"
    assert refused.headers["x-rate-limit-reset"] == str(reset)
    with pytest.raises(tweepy.TooManyRequests) as caught:
        client(limited).get_user(username="alice")
    assert caught.value.reset_time == reset

    clock.advance(899)
    assert get(limited, "/2/users/by/username/alice").status_code == 429
    clock.advance(1)
    renewed = get(limited, "/2/users/by/username/alice")
    assert renewed.status_code == 200
    assert renewed.headers["x-rate-limit-remaining"] == str(limit - 1)


def test_each_credential_and_endpoint_counts_apart(clock):
    server = SandboxX(limits=Limits(overrides={("GET", "/2/tweets/:id"): (2, 2)}), clock=clock)
    server.start()
    try:
        server.add_app(TOKEN)
        server.add_app(OTHER_TOKEN)
        server.add_account("alice")
        post = server.post("alice", "hi")
        path = f"/2/tweets/{post['id']}"
        assert [get(server, path).status_code for _ in range(3)] == [200, 200, 429]
        assert get(server, path, token=OTHER_TOKEN).status_code == 200  # another app
        assert get(server, "/2/users/by/username/alice").status_code == 200  # another endpoint
    finally:
        server.stop()


def test_off_reports_headers_but_never_refuses(x, people):
    post = x.post("alice", "hi")
    answers = [get(x, f"/2/tweets/{post['id']}/liking_users") for _ in range(80)]  # 75 allowed
    assert {a.status_code for a in answers} == {200}
    assert answers[-1].headers["x-rate-limit-limit"] == "75"
