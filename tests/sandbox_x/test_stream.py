"""The filtered stream through tweepy's StreamingClient: rules (add, dry_run, delete,
validation), matching posts tagged with their rules, keep-alives on the clock, one
connection per app, and reconnecting after the sandbox drops the connection."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests
import tweepy

from tests.sandbox_x.helpers import TOKEN, get, schema_errors
from xclient.transport import x_streaming_client

RULES = "/2/tweets/search/stream/rules"


def _wait(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Recorder(tweepy.StreamingClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[tweepy.StreamResponse] = []
        self.keep_alives = 0
        self.connects = 0

    def on_connect(self) -> None:
        self.connects += 1

    def on_response(self, response) -> None:
        self.responses.append(response)

    def on_keep_alive(self) -> None:
        self.keep_alives += 1


def _post_rules(x, body, **params) -> requests.Response:
    return requests.post(
        x.base_url + RULES,
        json=body,
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )


@pytest.fixture
def streaming(x, people):
    recorder = x_streaming_client(TOKEN, client_class=Recorder, base_url=x.base_url)
    yield recorder
    recorder.disconnect()
    x.disconnect_streams()
    if recorder.thread is not None:
        recorder.thread.join(timeout=5)


def test_matching_posts_arrive_with_their_rules_and_reconnect_after_a_drop(x, clock, streaming):
    added = streaming.add_rules(
        [tweepy.StreamRule("#bragabot", tag="brand"), tweepy.StreamRule("from:carol")]
    )
    brand, carol = (rule.id for rule in added.data)
    streaming.filter(threaded=True, tweet_fields=["author_id"], expansions=["author_id"])
    _wait(lambda: x.stream_connections() == ["app1"])

    x.post("alice", "hello #bragabot")
    x.post("bob", "nothing to see")
    x.post("carol", "carol on #bragabot")
    _wait(lambda: len(streaming.responses) == 2)
    first, second = streaming.responses
    assert first.data.text == "hello #bragabot"
    assert [(r.id, r.tag) for r in first.matching_rules] == [(brand, "brand")]
    assert first.includes["users"][0].username == "alice"
    assert {r.id for r in second.matching_rules} == {brand, carol}

    clock.advance(20)  # a keep-alive every 20 seconds of the sandbox's clock
    _wait(lambda: streaming.keep_alives == 1)

    assert x.disconnect_streams() == 1
    _wait(lambda: streaming.connects == 2 and x.stream_connections() == ["app1"])
    x.post("alice", "back #bragabot")
    _wait(lambda: len(streaming.responses) == 3)
    assert streaming.responses[-1].data.text == "back #bragabot"


def test_one_connection_per_app(x, streaming):
    streaming.add_rules(tweepy.StreamRule("hello"))
    streaming.filter(threaded=True)
    _wait(lambda: x.stream_connections() == ["app1"])
    second = get(x, "/2/tweets/search/stream")
    assert second.status_code == 429
    assert second.json()["connection_issue"] == "TooManyConnections"
    assert "x-rate-limit-remaining" in second.headers
    assert get(x, "/2/tweets/search/stream/rules").status_code == 200


def test_rules_add_dry_run_delete_and_validation(x):
    dry = _post_rules(x, {"add": [{"value": "cats OR dogs", "tag": "pets"}]}, dry_run="true")
    assert dry.status_code == 200
    assert dry.json()["meta"]["summary"] == {
        "created": 0,
        "not_created": 1,
        "valid": 1,
        "invalid": 0,
    }
    assert "data" not in get(x, RULES).json()  # nothing was added

    added = _post_rules(x, {"add": [{"value": "cats OR dogs", "tag": "pets"}, {"value": "#x"}]})
    assert added.status_code == 200
    assert schema_errors(added.json(), RULES, "post") == []
    assert added.json()["meta"]["summary"]["created"] == 2
    ids = [rule["id"] for rule in added.json()["data"]]
    listed = get(x, RULES).json()
    assert schema_errors(listed, RULES) == []
    assert [r["value"] for r in listed["data"]] == ["cats OR dogs", "#x"]
    assert listed["meta"]["result_count"] == 2

    duplicate = _post_rules(x, {"add": [{"value": "#x"}]})
    assert duplicate.json()["errors"][0]["title"] == "DuplicateRule"

    invalid = _post_rules(x, {"add": [{"value": "(cats"}, {"value": "fine"}]})
    assert invalid.status_code == 400
    assert invalid.json()["meta"]["summary"]["invalid"] == 1
    assert len(get(x, RULES).json()["data"]) == 2  # X adds none of a request with a bad rule
    too_long = _post_rules(x, {"add": [{"value": "a" * 513}]})
    assert too_long.status_code == 400
    assert "too long" in too_long.json()["errors"][0]["details"][0]
    assert _post_rules(x, {"add": [{"value": "a" * 512}]}).status_code == 200
    assert _post_rules(x, {"nothing": []}).status_code == 400

    deleted = _post_rules(x, {"delete": {"ids": [ids[0], "123"]}})
    assert deleted.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    assert schema_errors(deleted.json(), RULES, "post") == []
    remaining = [r["id"] for r in get(x, RULES).json()["data"]]
    assert ids[0] not in remaining and ids[1] in remaining
