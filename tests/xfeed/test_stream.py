"""The platform's filtered stream against the sandbox X over HTTP: every community's
compiled queries become rules tagged with their owner and are kept in sync (stale ones
deleted, in as few calls as possible); communities with their own X app, past X's rule
limit or at their cap stay off it; a post is routed by its rules' tags to every
community it is for; after a forced disconnect, posts made during the gap are
backfilled and every post is forwarded exactly once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from history.services import Actor
from sandbox.x import Limits
from xclient.credentials import credential_app_set
from xclient.metering import budget_set, usage_charge
from xclient.models import RateWindow
from xfeed import stream
from xfeed.models import Account, Forwarding, MentionRule
from xfeed.stream import StreamWorker, rule_tag, stream_plan, tag_owner

APP_TOKEN = "platform-stream-app"
RULES_PATH = "/2/tweets/search/stream/rules"
X_LIMITS = Limits.off()


@pytest.fixture
def x(x_server, settings):
    x_server.reset()
    x_server.add_app(APP_TOKEN, app_id="platform")
    settings.X_API_BASE, settings.X_BEARER_TOKEN = x_server.base_url, APP_TOKEN
    return x_server


@pytest.fixture
def worker(x) -> Iterator[Callable[..., StreamWorker]]:
    """``worker()``: a stream worker on the sandbox, stopped after the test."""
    made: list[StreamWorker] = []

    def make(**options: Any) -> StreamWorker:
        made.append(StreamWorker(**options))
        return made[-1]

    yield make
    for w in made:
        w.stop()
        assert not w.alive


def follow(tenant, x, username: str, *, chat_id: int = -100) -> Account:
    user = x.add_account(username) if username not in _accounts(x) else _accounts(x)[username]
    with tenant_context(tenant):
        account, _ = Account.objects.get_or_create(
            x_user_id=int(user["id"]),
            defaults={"username": username, "resolved_at": datetime.now(UTC)},
        )
        Forwarding.objects.get_or_create(chat_id=chat_id, account=account)
    return account


def _accounts(x) -> dict[str, dict]:
    return {a["username"]: a for a in x.snapshot()["accounts"]}


def x_rules(x) -> dict[str, str]:
    """The platform app's rules on X: tag -> value."""
    return {r.tag or "": r.value for r in x.streams.rules.get("platform", [])}


def rule_calls(x) -> list[str]:
    return [c["method"] for c in x.calls(path=RULES_PATH)]


def test_tags_name_the_community_and_its_query():
    assert rule_tag(12, "forward:abc") == "t12:forward:abc"
    assert tag_owner("t12:forward:abc") == (12, "forward:abc")
    assert tag_owner("forward:abc") is None
    assert tag_owner("tx:forward:abc") is None
    assert tag_owner("t12") is None


def test_rules_are_synced_and_resynced_after_a_change(x, make_tenant, worker):
    a, b = make_tenant(), make_tenant()
    follow(a, x, "project")
    with tenant_context(b):
        rule = MentionRule.objects.create(chat_id=-200, name="brand", keywords=["bragabot"])
    w = worker()
    first = w.sync()
    assert first is not None and (first.added, first.deleted) == (2, 0)
    rules = x_rules(x)
    [tag_a] = [t for t in rules if t.startswith(f"t{a.pk}:forward:")]
    [tag_b] = [t for t in rules if t.startswith(f"t{b.pk}:mention:")]
    assert rules[tag_a].startswith("from:") and "bragabot" in rules[tag_b]
    assert rule_calls(x) == ["GET", "POST"]  # read, then every missing rule in one add
    assert w.gaps == {a.pk, b.pk}  # new on the stream: backfilled once connected

    again = w.sync()  # nothing changed: one read, no write
    assert again is not None and (again.added, again.deleted, again.kept) == (0, 0, 2)
    assert rule_calls(x) == ["GET", "POST", "GET"]

    with tenant_context(a):
        Forwarding.objects.update(is_active=False)
    follow(b, x, "partner", chat_id=-200)
    with tenant_context(b):
        MentionRule.objects.filter(pk=rule.pk).update(keywords=["bragabot", "braga"])
    w.gaps.clear()
    changed = w.sync()
    assert changed is not None and (changed.added, changed.deleted, changed.kept) == (2, 2, 0)
    assert rule_calls(x)[3:] == ["GET", "POST", "POST"]  # one delete, one add
    rules = x_rules(x)
    assert not [t for t in rules if t.startswith(f"t{a.pk}:")]  # stale: deleted
    assert sorted(t.split(":")[1] for t in rules) == ["forward", "mention"]
    assert all(t.startswith(f"t{b.pk}:") for t in rules)
    assert rules[next(t for t in rules if ":mention:" in t)] == "(bragabot OR braga) -is:retweet"
    assert w.gaps == {b.pk}  # its rules were replaced; a has none left on the stream


def test_the_same_query_of_two_communities_is_one_rule_serving_both(x, make_tenant):
    a, b = make_tenant(), make_tenant()
    follow(a, x, "project")
    follow(b, x, "project")
    plan = stream_plan()
    [only] = plan.rules
    assert only.tag.startswith(f"t{a.pk}:forward:")  # the first owner's tag
    assert [o.tenant_id for o in only.owners] == [a.pk, b.pk]
    assert only.owners[0].key == only.owners[1].key


def test_communities_off_the_stream(x, make_tenant, monkeypatch):
    own, capped, late, streamed = (make_tenant() for _ in range(4))
    for tenant, name in ((own, "one"), (capped, "two"), (late, "three"), (streamed, "four")):
        follow(tenant, x, name)
    credential_app_set(tenant=own, bearer_token="their-own-app", actor=Actor.system())
    budget_set(tenant=capped, monthly_cap_micros=5_000, actor=Actor.system())
    usage_charge(tenant=capped, app="platform", post_ids=[1])  # one post read: the cap
    monkeypatch.setattr(stream, "MAX_RULES", 1)
    plan = stream_plan()
    # Communities are taken in id order: the first that fits is on, the next is past the limit.
    assert set(plan.streamed) == {late.pk} and plan.over_limit == [streamed.slug]
    assert set(plan.polled) == {own.pk, streamed.pk}
    assert set(plan.capped) == {capped.pk}
    assert [r.owners[0].tenant_id for r in plan.rules] == [late.pk]


def test_a_rule_sync_the_budget_refuses_changes_nothing(x, make_tenant, worker):
    a = make_tenant()
    follow(a, x, "project")
    w = worker()
    w.sync()
    RateWindow.objects.filter(endpoint=stream.GET_RULES).update(used=10_000)
    follow(a, x, "partner")
    assert w.sync() is None  # refused before reaching X
    assert rule_calls(x) == ["GET", "POST"]
    assert len(x_rules(x)) == 1


def wait(w: StreamWorker, check: Callable[[], Any], timeout: float = 15) -> Any:
    """Step the worker (on this thread, in the test's transaction) until ``check()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        w.step(timeout=0.05)
        found = check()
        if found:
            return found
    raise AssertionError("timed out")
