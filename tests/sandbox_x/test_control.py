"""The control API over HTTP (what the web page, the demo and other processes use): the
people's actions, apps and OAuth clients, the clock, streams, the call log and reset;
and the web page itself."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests

from sandbox.x.auth import s256
from tests.sandbox_x.helpers import get

REDIRECT = "https://app.example/cb"


def control(x, path: str, body: dict | None = None) -> requests.Response:
    url = f"{x.base_url}/sandbox/api{path}"
    if body is None:
        return requests.get(url, timeout=10)
    return requests.post(url, json=body, timeout=10)


def test_people_act_through_the_control_api(x):
    alice = control(x, "/accounts", {"username": "alice", "name": "Alice"})
    assert alice.status_code == 201
    assert control(x, "/accounts", {"username": "bob"}).status_code == 201
    assert control(x, "/accounts", {"username": "ALICE"}).status_code == 409
    post = control(x, "/posts", {"author": "alice", "text": "gm #x"}).json()
    reply = control(x, "/posts", {"author": "bob", "text": "gm", "reply_to": post["id"]}).json()
    quote = control(x, "/posts", {"author": "bob", "text": "q", "quote_of": post["id"]}).json()
    repost = control(x, "/reposts", {"account": "bob", "post_id": post["id"]}).json()
    assert control(x, "/likes", {"account": "bob", "post_id": post["id"]}).status_code == 200
    assert control(x, "/likes", {"account": "bob", "post_id": post["id"]}).status_code == 409
    assert control(x, "/follows", {"account": "bob", "target": "alice"}).status_code == 200
    assert control(x, "/impressions", {"post_id": post["id"], "impressions": 3}).status_code == 200
    assert control(x, "/likes", {"account": "nobody", "post_id": post["id"]}).status_code == 404
    assert control(x, "/posts", {"author": "alice"}).json()["code"] == "missing_field"

    assert reply["text"] == "@alice gm"
    assert reply["referenced_tweets"] == [{"type": "replied_to", "id": post["id"]}]
    assert quote["referenced_tweets"] == [{"type": "quoted", "id": post["id"]}]
    assert repost["text"] == "RT @alice: gm #x"
    state = control(x, "/state").json()
    original = next(p for p in state["posts"] if p["id"] == post["id"])
    assert original["public_metrics"]["like_count"] == 1
    assert original["public_metrics"]["reply_count"] == 1
    assert original["public_metrics"]["impression_count"] == 3
    followed = next(a for a in state["accounts"] if a["username"] == "alice")
    assert followed["public_metrics"]["followers_count"] == 1
    assert [p["id"] for p in state["posts"]] == sorted(
        (p["id"] for p in state["posts"]), key=int, reverse=True
    )


def test_posts_carry_media_as_x_gives_them(x):
    control(x, "/accounts", {"username": "alice"})
    photo = {"type": "photo", "url": "https://img.example/a.jpg"}
    post = control(x, "/posts", {"author": "alice", "text": "look", "media": [photo]}).json()
    [key] = post["attachments"]["media_keys"]
    assert key.startswith("3_")  # X's prefix for a photo
    video = {"type": "video", "url": "https://img.example/v.jpg"}
    control(x, "/posts", {"author": "alice", "text": "watch", "media": [video]})
    found = get(
        x,
        "/2/tweets/search/recent",
        **{
            "query": "from:alice",
            "expansions": "attachments.media_keys",
            "media.fields": "url,preview_image_url",
        },
    ).json()
    by_key = {m["media_key"]: m for m in found["includes"]["media"]}
    assert by_key[key] == {"media_key": key, "type": "photo", "url": photo["url"]}
    [clip] = [m for m in by_key.values() if m["type"] == "video"]
    assert clip["preview_image_url"] == video["url"] and "url" not in clip
    for bad in (
        [{"type": "sticker", "url": "https://img.example/s.png"}],
        [{"type": "photo", "url": "ftp://img.example/a.jpg"}],
        [photo] * 5,
        [video, photo],
        "https://img.example/a.jpg",
    ):
        refused = control(x, "/posts", {"author": "alice", "text": "x", "media": bad})
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_media")


def test_apps_clients_auto_approve_clock_calls_and_reset(x, clock):
    control(x, "/accounts", {"username": "alice"})
    assert control(x, "/apps", {"bearer_token": "NEW"}).json() == {"app_id": "app3"}
    assert get(x, "/2/users/by/username/alice", token="NEW").status_code == 200
    client = {"client_id": "c1", "redirect_uris": [REDIRECT], "app_id": "app3"}
    assert control(x, "/oauth/clients", client).status_code == 201
    assert control(x, "/oauth/auto-approve", {"account": "alice"}).status_code == 200
    consent = requests.get(
        f"{x.base_url}/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "c1",
            "redirect_uri": REDIRECT,
            "scope": "users.read",
            "state": "s",
            "code_challenge": s256("v" * 43),
            "code_challenge_method": "S256",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert consent.status_code == 302  # approved with no page: the auto-approve account
    assert "code" in parse_qs(urlparse(consent.headers["Location"]).query)

    before = clock()
    assert control(x, "/clock/advance", {"seconds": 60}).json() == {"now": before + 60}
    assert control(x, "/streams/disconnect", {}).json() == {"disconnected": 0}
    calls = control(x, "/calls?credential=app:app3").json()["calls"]
    assert [(c["path"], c["status"]) for c in calls] == [("/2/users/by/username/alice", 200)]
    assert calls[0]["ts"] == before

    assert control(x, "/reset", {}).status_code == 200
    state = control(x, "/state").json()
    assert (state["accounts"], state["posts"], state["apps"]) == ([], [], [])
    assert get(x, "/2/users/by/username/alice", token="NEW").status_code == 401


def test_the_web_page_and_its_script_are_served(x):
    page = requests.get(f"{x.base_url}/sandbox", timeout=10)
    assert page.status_code == 200 and "<title>Sandbox X</title>" in page.text
    script = requests.get(f"{x.base_url}/sandbox/static/app.js", timeout=10)
    assert script.status_code == 200 and "/sandbox/api" in script.text
    shared = requests.get(f"{x.base_url}/sandbox/shared/common.js", timeout=10)
    assert shared.status_code == 200 and "function attempt" in shared.text
