"""tweepy on a configurable host, against the sandbox X over HTTP: app-only reads, the
filtered stream, and the OAuth 2.0 PKCE flow (consent URL, token, refresh); against X
itself nothing is rewritten."""

from __future__ import annotations

import threading
import time
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import tweepy

from xclient.transport import (
    HostAdapter,
    OAuth2UserHandler,
    bind,
    rewrite,
    x_client,
    x_streaming_client,
)

APP_TOKEN = "app-token-of-the-tests"
REDIRECT = "https://bragabot.example/x/callback"


@pytest.fixture
def app(x_server):
    x_server.reset()
    x_server.add_app(APP_TOKEN)
    x_server.add_account("project", name="The Project")
    return x_server


def test_rewrite_moves_x_s_urls_only():
    base = "http://127.0.0.1:9"
    assert rewrite("https://api.twitter.com/2/tweets?ids=1", base) == f"{base}/2/tweets?ids=1"
    assert rewrite("https://api.x.com/2/users/me", base) == f"{base}/2/users/me"
    assert rewrite("https://api.twitter.com.evil.example/2", base).startswith("https://api.tw")
    assert rewrite("https://example.com/2/tweets", base) == "https://example.com/2/tweets"


def test_against_x_itself_nothing_is_mounted(settings):
    settings.X_API_BASE = "https://api.x.com"
    session = bind(requests.Session())
    assert not any(isinstance(a, HostAdapter) for a in session.adapters.values())


def test_app_only_reads_reach_the_configured_host(app, settings):
    settings.X_API_BASE = app.base_url
    app.post("project", "gm from the project #bragabot")
    client = x_client(bearer_token=APP_TOKEN)
    user = client.get_user(username="project").data
    assert user.name == "The Project"
    found = client.search_recent_tweets("#bragabot").data
    assert [t.text for t in found] == ["gm from the project #bragabot"]
    assert [c["path"] for c in app.calls()][-2:] == [
        "/2/users/by/username/project",
        "/2/tweets/search/recent",
    ]
    with pytest.raises(tweepy.Unauthorized):
        x_client(bearer_token="not-a-token").get_user(username="project")


class Collect(tweepy.StreamingClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.got: list[str] = []
        self.arrived = threading.Event()

    def on_tweet(self, tweet) -> None:
        self.got.append(tweet.text)
        self.arrived.set()


def test_the_filtered_stream_reaches_the_configured_host(app):
    stream = x_streaming_client(APP_TOKEN, client_class=Collect, base_url=app.base_url)
    stream.add_rules(tweepy.StreamRule("#launch"))
    thread = stream.filter(threaded=True)
    try:
        deadline = time.monotonic() + 10
        while not app.stream_connections():
            assert time.monotonic() < deadline, "the stream never connected"
            time.sleep(0.01)
        app.post("project", "not this one")
        app.post("project", "we #launch today")
        assert stream.arrived.wait(10)
    finally:
        stream.disconnect()
        app.disconnect_streams()
        thread.join(10)
    assert stream.got == ["we #launch today"]


def test_the_pkce_flow_runs_on_the_configured_host(app):
    app.add_oauth_client("client-1", [REDIRECT])
    app.auto_approve("project")
    handler = OAuth2UserHandler(
        base_url=app.base_url,
        client_id="client-1",
        redirect_uri=REDIRECT,
        scope=["tweet.read", "users.read", "offline.access"],
    )
    consent = handler.get_authorization_url()
    assert consent.startswith(app.base_url + "/i/oauth2/authorize?")
    answer = requests.get(consent, allow_redirects=False, timeout=10)
    callback = answer.headers["Location"]
    assert callback.startswith(REDIRECT) and "code" in parse_qs(urlparse(callback).query)
    token = handler.fetch_token(callback)
    me = x_client(bearer_token=token["access_token"], base_url=app.base_url).get_me(user_auth=False)
    assert me.data.username == "project"
    # X's own token URL, as a caller writes it: the adapter sends it to the sandbox.
    refreshed = handler.refresh_token(
        "https://api.x.com/2/oauth2/token",
        refresh_token=token["refresh_token"],
        client_id="client-1",  # a public client names itself in the body
    )
    assert refreshed["access_token"] != token["access_token"]
