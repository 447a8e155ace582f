"""The control API under ``/sandbox/api/``: JSON over HTTP for the web page and for tests
or benchmarks in other processes. Each route calls the SandboxX method of the same name;
errors answer ``{"detail": ..., "code": ...}``.

    GET  /sandbox/api/state                 snapshot(): accounts, posts, apps, streams
    POST /sandbox/api/reset                 reset()
    POST /sandbox/api/accounts              add_account(username, name, description, verified, id)
    POST /sandbox/api/posts                 post(author, text, lang, media) / reply
                                            (reply_to) / quote (quote_of); media:
                                            [{"type": "photo"|"video"|"animated_gif",
                                              "url": image URL}]
    POST /sandbox/api/reposts               repost(account, post_id)
    POST /sandbox/api/likes                 like(account, post_id)
    POST /sandbox/api/follows               follow(account, target)
    POST /sandbox/api/impressions           view_post(post_id, impressions)
    POST /sandbox/api/apps                  add_app(bearer_token, app_id)
    POST /sandbox/api/oauth/clients         add_oauth_client(client_id, redirect_uris,
                                                             client_secret, app_id)
    POST /sandbox/api/oauth/auto-approve    auto_approve(account or null)
    POST /sandbox/api/clock/advance         advance(seconds): a ManualClock only
    POST /sandbox/api/streams/disconnect    disconnect_streams(app_id)
    GET  /sandbox/api/calls                 calls(?path=&credential=)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from sandbox.serving import Handler, json_endpoint
from sandbox.x.errors import SandboxError

if TYPE_CHECKING:
    from sandbox.x.server import SandboxX


def _endpoint(func: Callable[[web.Request, dict[str, Any]], Any], status: int = 200) -> Handler:
    return json_endpoint(func, errors=(SandboxError,), status=status)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def control_routes(x: SandboxX) -> list[web.RouteDef]:
    def state(request, body):
        return x.snapshot()

    def reset(request, body):
        x.reset()

    def add_account(request, body):
        return x.add_account(
            str(body["username"]),
            _text(body.get("name")),
            description=str(body.get("description") or ""),
            verified=bool(body.get("verified", False)),
            account_id=_text(body.get("id")),
        )

    def post(request, body):
        author, text = str(body["author"]), str(body["text"])
        media = body.get("media") or None
        if media is not None and not (
            isinstance(media, list) and all(isinstance(m, dict) for m in media)
        ):
            raise SandboxError('media: a list of {"type", "url"}', "invalid_media")
        if body.get("reply_to"):
            return x.reply(author, str(body["reply_to"]), text, media=media)
        if body.get("quote_of"):
            return x.quote(author, str(body["quote_of"]), text, media=media)
        return x.post(author, text, lang=str(body.get("lang") or "en"), media=media)

    def repost(request, body):
        return x.repost(str(body["account"]), str(body["post_id"]))

    def like(request, body):
        x.like(str(body["account"]), str(body["post_id"]))

    def follow(request, body):
        x.follow(str(body["account"]), str(body["target"]))

    def impressions(request, body):
        x.view_post(str(body["post_id"]), int(body.get("impressions", 1)))

    def add_app(request, body):
        return {"app_id": x.add_app(str(body["bearer_token"]), _text(body.get("app_id")))}

    def add_client(request, body):
        uris = body["redirect_uris"]
        if not isinstance(uris, list):
            raise ValueError("redirect_uris must be a list")
        app_id = x.add_oauth_client(
            str(body["client_id"]),
            [str(u) for u in uris],
            client_secret=_text(body.get("client_secret")),
            app_id=_text(body.get("app_id")),
        )
        return {"app_id": app_id}

    def auto_approve(request, body):
        x.auto_approve(_text(body.get("account")))

    def advance(request, body):
        return {"now": x.advance(float(body["seconds"]))}

    def disconnect(request, body):
        return {"disconnected": x.disconnect_streams(_text(body.get("app_id")))}

    def calls(request, body):
        q = request.query
        return {"calls": x.calls(path=q.get("path"), credential=q.get("credential"))}

    base = "/sandbox/api"
    return [
        web.get(f"{base}/state", _endpoint(state)),
        web.post(f"{base}/reset", _endpoint(reset)),
        web.post(f"{base}/accounts", _endpoint(add_account, 201)),
        web.post(f"{base}/posts", _endpoint(post, 201)),
        web.post(f"{base}/reposts", _endpoint(repost, 201)),
        web.post(f"{base}/likes", _endpoint(like)),
        web.post(f"{base}/follows", _endpoint(follow)),
        web.post(f"{base}/impressions", _endpoint(impressions)),
        web.post(f"{base}/apps", _endpoint(add_app, 201)),
        web.post(f"{base}/oauth/clients", _endpoint(add_client, 201)),
        web.post(f"{base}/oauth/auto-approve", _endpoint(auto_approve)),
        web.post(f"{base}/clock/advance", _endpoint(advance)),
        web.post(f"{base}/streams/disconnect", _endpoint(disconnect)),
        web.get(f"{base}/calls", _endpoint(calls)),
    ]
