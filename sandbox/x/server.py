"""SandboxX: the HTTP server (X API v2 reads, filtered stream, OAuth 2.0, control API,
web page) and the Python methods tests call to play the people.

Every API request is authenticated (an app's bearer token or a user's OAuth 2.0 token),
rate-limited per endpoint and credential, answered under the world's lock and logged in
``calls()``."""

from __future__ import annotations

import asyncio
import base64
import html
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlencode

from aiohttp import web

from sandbox.clock import Clock, ManualClock, real_clock
from sandbox.serving import BackgroundServer, Handler, add_web_page
from sandbox.x import api, stream
from sandbox.x.auth import Auth, Credential, OAuthError
from sandbox.x.clock import iso
from sandbox.x.control import control_routes
from sandbox.x.errors import (
    ApiError,
    SandboxError,
    too_many_connections,
    unauthorized,
    unsupported_auth,
)
from sandbox.x.limits import USER_CONTEXT_ONLY, Limits, RateLimiter
from sandbox.x.objects import POST_FIELDS, USER_FIELDS, JSONDict, Renderer, View
from sandbox.x.world import Post, World

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"
RULES_ENDPOINT = "/2/tweets/search/stream/rules"
ALL_USER_FIELDS = View(user_fields=USER_FIELDS)
ALL_POST_FIELDS = View(post_fields=POST_FIELDS - {"referenced_posts", "edit_history_post_ids"})


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class SandboxX(BackgroundServer):
    """A loopback X API v2: tweepy talks to it through ``xclient.transport`` (X_API_BASE);
    tests drive the accounts in it from Python."""

    thread_name = "sandbox-x"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Limits | None = None,
        clock: Clock = real_clock,
        heartbeat_seconds: float = stream.HEARTBEAT_SECONDS,
    ) -> None:
        super().__init__(host, port)
        self.clock = clock
        self.heartbeat_seconds = heartbeat_seconds
        self.world = World(clock, on_post=self._on_post)
        self.auth = Auth(clock)
        self.rate = RateLimiter(limits if limits is not None else Limits(), clock)
        self.streams = stream.Streams()
        self.auto_approve_account: str | None = None
        self._calls: list[JSONDict] = []

    # ---- lifecycle --------------------------------------------------------------------
    async def _start_site(self) -> None:
        await self._open_site(self.app())
        logger.info("sandbox.x.started", extra={"base_url": self.base_url})

    async def _stop_site(self) -> None:
        with self.world.lock:
            self.streams.disconnect()
        await self._close_site()

    def app(self) -> web.Application:
        app = web.Application()
        for method, route, endpoint, func in api.ROUTES:
            app.router.add_route(method, route, self._api_handler(method, endpoint, func))
        app.router.add_get("/2/tweets/search/stream", self._handle_stream)
        app.router.add_get(RULES_ENDPOINT, self._rules_handler("GET", self._get_rules))
        app.router.add_post(RULES_ENDPOINT, self._rules_handler("POST", self._post_rules))
        app.router.add_get("/i/oauth2/authorize", self._handle_authorize)
        app.router.add_post("/2/oauth2/token", self._handle_token)
        app.router.add_post("/2/oauth2/revoke", self._handle_revoke)
        add_web_page(app, WEB_DIR, "Sandbox X")
        app.router.add_routes(control_routes(self))
        return app

    # ---- the API: authentication, rate limits, the call log -------------------------------
    def _authenticate(self, request: web.Request, method: str, endpoint: str) -> Credential:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        credential = self.auth.credential(token.strip()) if scheme.lower() == "bearer" else None
        if credential is None:
            raise unauthorized()
        per_app, per_user = self.rate.limits.row(method, endpoint)
        if credential.user_context and per_user is None:
            raise unsupported_auth("OAuth 2.0 Application-Only")
        if not credential.user_context and (
            per_app is None or (method, endpoint) in USER_CONTEXT_ONLY
        ):
            raise unsupported_auth("OAuth 1.0a User Context, OAuth 2.0 User Context")
        return credential

    def _admit(self, request: web.Request, method: str, endpoint: str) -> tuple[Credential, dict]:
        """Authenticate and count the request (under the lock); ApiError if refused."""
        with self.world.lock:
            credential = self._authenticate(request, method, endpoint)
            headers = self.rate.take(method, endpoint, credential.key, credential.user_context)
        return credential, headers

    def _log(self, request: web.Request, credential: Credential | None, status: int) -> None:
        with self.world.lock:
            self._calls.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": dict(request.query),
                    "credential": str(credential) if credential else None,
                    "status": status,
                    "ts": self.clock(),
                }
            )

    def _refusal(
        self, request: web.Request, error: ApiError, credential: Credential | None = None
    ) -> web.Response:
        self._log(request, credential, error.status)
        return web.json_response(
            error.body, status=error.status, headers=error.headers, dumps=_dumps
        )

    def _api_handler(self, method: str, endpoint: str, func: api.Endpoint) -> Handler:
        async def handle(request: web.Request) -> web.Response:
            credential = None
            try:
                credential, headers = self._admit(request, method, endpoint)
                with self.world.lock:
                    call = api.Request(
                        self.world,
                        self.clock,
                        credential,
                        dict(request.match_info),
                        dict(request.query),
                    )
                    try:
                        status, body = 200, func(call)
                    except ApiError as exc:
                        status, body = exc.status, exc.body
            except ApiError as exc:
                return self._refusal(request, exc, credential)
            self._log(request, credential, status)
            return web.json_response(body, status=status, headers=headers, dumps=_dumps)

        return handle

    # ---- filtered stream -----------------------------------------------------------------
    def _rules_handler(
        self, method: str, rules: Callable[[web.Request, Credential], Awaitable[tuple[int, Any]]]
    ) -> Handler:
        """A stream-rules route: admitted and logged like an API endpoint; ``rules``
        answers the status and body."""

        async def handle(request: web.Request) -> web.Response:
            try:
                credential, headers = self._admit(request, method, RULES_ENDPOINT)
            except ApiError as exc:
                return self._refusal(request, exc)
            status, body = await rules(request, credential)
            self._log(request, credential, status)
            return web.json_response(body, status=status, headers=headers, dumps=_dumps)

        return handle

    async def _get_rules(self, request: web.Request, credential: Credential) -> tuple[int, Any]:
        with self.world.lock:
            return 200, stream.get_rules(
                self.streams, credential.app_id, dict(request.query), iso(self.clock())
            )

    async def _post_rules(self, request: web.Request, credential: Credential) -> tuple[int, Any]:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        dry_run = request.query.get("dry_run", "false").lower() == "true"
        with self.world.lock:
            return stream.update_rules(
                self.streams,
                credential.app_id,
                payload,
                dry_run,
                iso(self.clock()),
                self.world.new_id,
            )

    async def _handle_stream(self, request: web.Request) -> web.StreamResponse:
        endpoint = "/2/tweets/search/stream"
        credential = None
        try:
            credential, headers = self._admit(request, "GET", endpoint)
            view = View.of(dict(request.query))
            with self.world.lock:
                if credential.app_id in self.streams.connections:
                    refused = too_many_connections()
                    refused.headers = headers
                    raise refused
                connection = stream.Connection(
                    credential.app_id, dict(request.query), asyncio.get_running_loop()
                )
                self.streams.connections[credential.app_id] = connection
        except ApiError as exc:
            return self._refusal(request, exc, credential)
        self._log(request, credential, 200)
        response = web.StreamResponse(headers={**headers, "Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            await response.prepare(request)
            await self._pump(connection, view, response)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with self.world.lock:
                if self.streams.connections.get(credential.app_id) is connection:
                    del self.streams.connections[credential.app_id]
        return response

    async def _pump(
        self, connection: stream.Connection, view: View, response: web.StreamResponse
    ) -> None:
        """Write matching posts and keep-alives until the connection is ended."""
        last_beat = self.clock()
        while True:
            try:
                item = await asyncio.wait_for(connection.queue.get(), timeout=0.05)
            except TimeoutError:
                if self.clock() - last_beat >= self.heartbeat_seconds:
                    last_beat = self.clock()
                    await response.write(b"\r\n")
                continue
            if item is None:
                return
            post_id, matching = item
            with self.world.lock:
                renderer = Renderer(self.world, view)
                body = {"data": renderer.post(self.world.posts[post_id])}
                if renderer.includes():
                    body["includes"] = renderer.includes()
            body["matching_rules"] = matching
            await response.write(_dumps(body).encode() + b"\r\n")

    def _on_post(self, post: Post) -> None:
        """A new post (the world's lock is held): queue it on each stream it matches."""
        if not self.streams.connections:
            return
        searchable = self.world.searchable(post)
        for connection in self.streams.connections.values():
            matching = self.streams.matching(connection.app_id, searchable)
            if matching:
                connection.push((post.id, matching))

    # ---- OAuth 2.0 ----------------------------------------------------------------------
    async def _handle_authorize(self, request: web.Request) -> web.Response:
        q = request.query
        challenge = q.get("code_challenge", "")
        method = q.get("code_challenge_method", "plain")
        redirect_uri = q.get("redirect_uri", "")
        with self.world.lock:
            try:
                client = self.auth.check_authorize(
                    q.get("client_id", ""), redirect_uri, challenge, method
                )
                if q.get("response_type") != "code":
                    raise OAuthError("unsupported_response_type", "response_type must be code.")
            except OAuthError as exc:
                return web.Response(text=f"Something went wrong: {exc.description}", status=400)
            chosen = q.get("sandbox_account") or self.auto_approve_account
            if chosen is None:
                return web.Response(text=self._authorize_page(request), content_type="text/html")
            try:
                account = self.world.account(chosen)
            except SandboxError as exc:
                return web.Response(text=exc.detail, status=400)
            if q.get("sandbox_decision") == "deny":
                params = {"error": "access_denied", "state": q.get("state", "")}
            else:
                scopes = q.get("scope", "").split()
                code = self.auth.approve(
                    client, account.id, scopes, redirect_uri, challenge, method
                )
                params = {"state": q.get("state", ""), "code": code}
        sep = "&" if "?" in redirect_uri else "?"
        raise web.HTTPFound(redirect_uri + sep + urlencode(params))

    def _authorize_page(self, request: web.Request) -> str:
        """The consent screen: approve as any account (a link per account)."""
        rows = []
        for account in self.world.accounts.values():
            url = request.rel_url.update_query(sandbox_account=account.username)
            rows.append(
                f'<li><a href="{html.escape(str(url))}">Authorize app as '
                f"@{html.escape(account.username)}</a></li>"
            )
        client = html.escape(request.query.get("client_id", ""))
        scopes = html.escape(request.query.get("scope", ""))
        return (
            f"<!doctype html><title>Authorize app</title><h1>{client} wants access</h1>"
            f"<p>Scopes: {scopes}</p><ul>{''.join(rows) or '<li>No accounts yet.</li>'}</ul>"
        )

    async def _handle_token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        basic = _basic_auth(request.headers.get("Authorization", ""))
        with self.world.lock:
            try:
                body, status = self.auth.token(form, basic), 200
            except OAuthError as exc:
                body = {"error": exc.error, "error_description": exc.description}
                status = exc.status
        self._log(request, None, status)
        return web.json_response(body, status=status)

    async def _handle_revoke(self, request: web.Request) -> web.Response:
        form = await request.post()
        with self.world.lock:
            self.auth.revoke(str(form.get("token", "")))
        return web.json_response({"revoked": True})

    # ---- control: the people ---------------------------------------------------------------
    def add_account(
        self,
        username: str,
        name: str | None = None,
        *,
        description: str = "",
        verified: bool = False,
        account_id: str | None = None,
    ) -> JSONDict:
        """Create an account; returns it as a User with every field we keep."""
        with self.world.lock:
            account = self.world.add_account(
                username, name, description=description, verified=verified, account_id=account_id
            )
            return Renderer(self.world, ALL_USER_FIELDS).user(account)

    def _post_json(self, post: Post) -> JSONDict:
        view = View(post_fields=ALL_POST_FIELDS.post_fields | {"referenced_tweets"})
        return Renderer(self.world, view).post(post, expand=False)

    def post(
        self, author: str, text: str, *, lang: str = "en", media: list[dict] | None = None
    ) -> JSONDict:
        """``author`` (id or username) posts ``text`` (``media``: see
        ``World.create_post``); returns the Post."""
        with self.world.lock:
            return self._post_json(self.world.create_post(author, text, lang=lang, media=media))

    def reply(
        self, author: str, post_id: str, text: str, *, media: list[dict] | None = None
    ) -> JSONDict:
        with self.world.lock:
            post = self.world.create_post(author, text, reply_to=str(post_id), media=media)
            return self._post_json(post)

    def quote(
        self, author: str, post_id: str, text: str, *, media: list[dict] | None = None
    ) -> JSONDict:
        with self.world.lock:
            post = self.world.create_post(author, text, quote_of=str(post_id), media=media)
            return self._post_json(post)

    def repost(self, account: str, post_id: str) -> JSONDict:
        with self.world.lock:
            return self._post_json(self.world.repost(account, str(post_id)))

    def like(self, account: str, post_id: str) -> None:
        with self.world.lock:
            self.world.like(account, str(post_id))

    def follow(self, account: str, target: str) -> None:
        with self.world.lock:
            self.world.follow(account, target)

    def view_post(self, post_id: str, impressions: int = 1) -> None:
        """Count impressions of a post (X counts views; the sandbox has no viewers)."""
        with self.world.lock:
            self.world.post(str(post_id)).impression_count += impressions

    # ---- control: apps, OAuth, clock, streams, calls --------------------------------------
    def add_app(self, bearer_token: str, app_id: str | None = None) -> str:
        """Register an app's bearer token; returns the app id."""
        with self.world.lock:
            return self.auth.add_app(bearer_token, app_id).id

    def add_oauth_client(
        self,
        client_id: str,
        redirect_uris: list[str],
        *,
        client_secret: str | None = None,
        app_id: str | None = None,
    ) -> str:
        """Register an OAuth 2.0 client (confidential with a secret); returns its app id."""
        with self.world.lock:
            client = self.auth.add_client(
                client_id, redirect_uris, client_secret=client_secret, app_id=app_id
            )
            return client.app_id

    def auto_approve(self, account: str | None) -> None:
        """Every /i/oauth2/authorize request approves as ``account`` at once (None: ask)."""
        with self.world.lock:
            self.auto_approve_account = self.world.account(account).id if account else None

    def advance(self, seconds: float) -> float:
        """Move a ManualClock forward; returns the new time."""
        if not isinstance(self.clock, ManualClock):
            raise SandboxError(
                "the clock is real: start SandboxX(clock=ManualClock())", "real_clock"
            )
        self.clock.advance(seconds)
        return self.clock()

    def disconnect_streams(self, app_id: str | None = None) -> int:
        """End the open filtered-stream connections (X's side of a disconnect)."""
        with self.world.lock:
            return self.streams.disconnect(app_id)

    def stream_connections(self) -> list[str]:
        with self.world.lock:
            return list(self.streams.connections)

    def calls(self, path: str | None = None, credential: str | None = None) -> list[JSONDict]:
        """API calls made, oldest first: method, path, query, credential, status, ts."""
        with self.world.lock:
            return [
                dict(c)
                for c in self._calls
                if (path is None or c["path"] == path)
                and (credential is None or c["credential"] == credential)
            ]

    def snapshot(self) -> JSONDict:
        with self.world.lock:
            users = Renderer(self.world, ALL_USER_FIELDS)
            return {
                "now": self.clock(),
                "accounts": [users.user(a) for a in self.world.accounts.values()],
                "posts": [self._post_json(p) for p in self.world.posts_newest_first()],
                "apps": sorted(self.auth.apps),
                "streams": list(self.streams.connections),
            }

    def reset(self) -> None:
        """Forget accounts, posts, apps, tokens, rules, rate counts and calls; end streams."""
        with self.world.lock:
            self.streams.disconnect()
            self.streams.clear()
            self.world.clear()
            self.auth.clear()
            self.rate.reset()
            self._calls.clear()
            self.auto_approve_account = None


def _basic_auth(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return unquote_plus(client_id), unquote_plus(secret)
