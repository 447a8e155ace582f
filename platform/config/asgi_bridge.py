"""Serve a sync WSGI application (Django's) from an ASGI server with one thread hop per
request.

The event loop reads the whole request body, a worker thread from a fixed pool runs the
application and renders the response, and the loop sends it: one hand-off to the thread
and one back. Generic bridges (a2wsgi, asgiref) block the worker on the loop once for the
status line and once more per body chunk, so a small JSON answer cost four round trips
between threads. Measured with `python -m bench api_me` on one uvicorn worker, this
bridge serves a bare Django view about 2.6x and ``GET /api/v1/me`` about 1.5x as fast.

Each worker thread keeps its database connection across requests (``CONN_MAX_AGE``).
Streaming responses (Django's ``StreamingHttpResponse``, ``FileResponse``) are still sent
chunk by chunk as the application yields them.

What a client cannot do to it: a body larger than ``max_body_bytes`` is refused with 413,
and one not received whole within ``body_timeout_s`` with 408 (the connection is closed),
both before the application sees them; with more than ``max_queue`` requests already
waiting for a thread, a request is refused at once with 503 ``overloaded`` and
Retry-After instead of queueing without bound. Every refusal is ``{"detail", "code"}``.
Header names holding ``_`` are dropped, as gunicorn and nginx drop them: CGI spells ``-``
as ``_``, so ``X_Forwarded_For`` would otherwise arrive as ``HTTP_X_FORWARDED_FOR`` beside
(or instead of) the header the proxy in front set.
"""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
# A coroutine, not any awaitable: the worker thread hands it to run_coroutine_threadsafe.
Send = Callable[[Message], Coroutine[Any, Any, None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected before its request body was complete."""


def wsgi_environ(scope: Scope, body: bytes) -> dict[str, Any]:
    """PEP 3333 environ for an ASGI HTTP scope (strings are latin-1 "bytes as str")."""
    root_path = scope.get("root_path", "")
    path = scope["path"]
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    server_name, server_port = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root_path.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": str(server_port or 0),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], port = client[0], client[1]
        environ["REMOTE_PORT"] = str(port)
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").lower()
        if "_" in name:
            continue  # would impersonate the header spelt with "-" (see the module's doc)
        if name == "content-length":
            key = "CONTENT_LENGTH"
        elif name == "content-type":
            key = "CONTENT_TYPE"
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
        value = raw_value.decode("latin-1")
        # Repeated headers are joined, as a CGI server would.
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _declared_length(scope)
    if declared is not None and declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _encode_headers(headers: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    # Stripped: Django renders Set-Cookie as " name=value" (a leading space), which HTTP
    # servers refuse as an illegal header value.
    return [
        (name.strip().lower().encode("latin-1"), value.strip().encode("latin-1"))
        for name, value in headers
    ]


class _Exchange:
    """One request's response, built on the worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self.loop = loop
        self.send = send
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.streamed = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info and self.streamed:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status = int(status.split(" ", 1)[0])
        self.headers = _encode_headers(headers)
        return self.chunks.append  # PEP 3333's legacy write(): buffered like the rest

    def _send_now(self, message: Message) -> None:
        asyncio.run_coroutine_threadsafe(self.send(message), self.loop).result()

    def stream(self, chunk: bytes) -> None:
        """Send ``chunk`` at once (a streaming response), the status line first."""
        if not self.streamed:
            self.streamed = True
            self._send_now(
                {"type": "http.response.start", "status": self.status, "headers": self.headers}
            )
            for early in self.chunks:
                self._send_now({"type": "http.response.body", "body": early, "more_body": True})
            self.chunks = []
        if chunk:
            self._send_now({"type": "http.response.body", "body": chunk, "more_body": True})


class WSGIBridge:
    """ASGI application running ``app`` on ``workers`` threads, one hop per request."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        workers: int,
        max_body_bytes: int,
        body_timeout_s: float = 30.0,
        max_queue: int = 64,
    ) -> None:
        self.app = app
        self.workers = workers
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_queue = max_queue
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="web")
        # Requests handed to the pool and not finished, running or queued. Only the event
        # loop's thread changes it.
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=False)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await _read_body(scope, receive, self.max_body_bytes)
        except BodyTooLarge:
            detail = f"request body is larger than {self.max_body_bytes} bytes"
            await _refuse(send, 413, "body_too_large", detail)
            return
        except TimeoutError:
            detail = f"request body not received within {self.body_timeout_s:g} s"
            await _refuse(send, 408, "body_timeout", detail)
            return
        except ClientGone:
            return  # a half-received request is never handed to the application
        if self.in_flight - self.workers >= self.max_queue:
            detail = "too many requests are waiting; retry shortly"
            await _refuse(send, 503, "overloaded", detail, ((b"retry-after", b"1"),))
            return
        loop = asyncio.get_running_loop()
        exchange = _Exchange(loop, send)
        environ = wsgi_environ(scope, body)
        run = contextvars.copy_context().run
        self.in_flight += 1
        try:
            await loop.run_in_executor(self.executor, run, self._respond, environ, exchange)
        finally:
            self.in_flight -= 1
        if exchange.streamed:
            await send({"type": "http.response.body", "body": b""})
            return
        await send(
            {"type": "http.response.start", "status": exchange.status, "headers": exchange.headers}
        )
        await send({"type": "http.response.body", "body": b"".join(exchange.chunks)})

    def _respond(self, environ: dict[str, Any], exchange: _Exchange) -> None:
        """On a worker thread: run the application and collect (or stream) its answer."""
        iterable = self.app(environ, exchange.start_response)
        try:
            if getattr(iterable, "streaming", False):
                for chunk in iterable:
                    exchange.stream(chunk)
                exchange.stream(b"")  # headers of an empty stream still go out
            else:
                exchange.chunks.extend(iterable)
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()  # Django sends request_finished here


async def _refuse(
    send: Send, status: int, code: str, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer ``{"detail", "code"}`` without the application, and close the connection."""
    body = json.dumps({"detail": detail, "code": code}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
