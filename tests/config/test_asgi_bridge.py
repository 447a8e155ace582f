"""config.asgi_bridge: the WSGI environ it builds (headers spelt with "_" dropped), bodies
in and out (buffered and streamed), the body limit and timeout, the bounded queue,
lifespan, and Django served through it keeping each thread's database connection."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import StreamingHttpResponse

from config.asgi_bridge import WSGIBridge, wsgi_environ


def _scope(path: str = "/", **extra: Any) -> dict[str, Any]:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"demo.localhost")],
        "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.7", 51234),
        "http_version": "1.1",
        "scheme": "http",
    }
    return {**scope, **extra}


def _serve(
    app: Any, scope: dict[str, Any], chunks: list[bytes] | None = None, **bridge: Any
) -> list[dict[str, Any]]:
    """Run one request through a bridge; return every message it sent."""
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks or [b""]) - 1}
        for i, c in enumerate(chunks or [b""])
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    server = WSGIBridge(app, **{"workers": 2, "max_body_bytes": 1024, **bridge})
    try:
        asyncio.run(server(scope, receive, send))
    finally:
        server.executor.shutdown(wait=True)
    return sent


def _echo_environ(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    body = environ["wsgi.input"].read()
    keys = (
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "SERVER_NAME",
        "SERVER_PORT",
        "REMOTE_ADDR",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "HTTP_HOST",
        "HTTP_X_TAG",
        "wsgi.url_scheme",
    )
    seen = {k: environ.get(k) for k in keys} | {"body": body.decode()}
    start_response("201 Created", [("Content-Type", "application/json"), ("X-Thread", "w")])
    return [json.dumps(seen).encode()]


def test_environ_follows_pep_3333():
    path = "/api/v1/groups/caf\u00e9"
    environ = wsgi_environ(
        _scope(
            "/prefix" + path,
            root_path="/prefix",
            query_string=b"a=1&b=%C3%A9",
            headers=[(b"x-tag", b"one"), (b"X-Tag", b"two"), (b"content-type", b"text/plain")],
        ),
        b"",
    )
    assert environ["SCRIPT_NAME"] == "/prefix"
    # WSGI carries the UTF-8 bytes of the path as latin-1 characters.
    assert environ["PATH_INFO"] == path.encode("utf-8").decode("latin-1")
    assert environ["QUERY_STRING"] == "a=1&b=%C3%A9"
    assert environ["HTTP_X_TAG"] == "one,two"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert (environ["REMOTE_ADDR"], environ["REMOTE_PORT"]) == ("10.0.0.7", "51234")
    assert environ["SERVER_PORT"] == "8000" and environ["SERVER_PROTOCOL"] == "HTTP/1.1"


def test_header_names_with_an_underscore_are_dropped():
    # CGI spells "-" as "_": X_Forwarded_For would arrive as the proxy's X-Forwarded-For.
    headers = [
        (b"x_forwarded_for", b"6.6.6.6"),
        (b"x-forwarded-for", b"203.0.113.9"),
        (b"X_Real_IP", b"6.6.6.6"),
        (b"content_type", b"text/evil"),
        (b"x-tag", b"kept"),
    ]
    environ = wsgi_environ(_scope(headers=headers), b"")
    assert environ["HTTP_X_FORWARDED_FOR"] == "203.0.113.9"
    assert "HTTP_X_REAL_IP" not in environ and "CONTENT_TYPE" not in environ
    assert environ["HTTP_X_TAG"] == "kept"
    sent = _serve(_echo_environ, _scope(headers=[(b"x_tag", b"forged")]))
    assert json.loads(sent[1]["body"])["HTTP_X_TAG"] is None


def test_a_body_in_chunks_reaches_the_app_whole_and_the_answer_goes_out_in_one_piece():
    scope = _scope(
        "/echo",
        method="POST",
        query_string=b"x=1",
        headers=[(b"host", b"demo.localhost"), (b"content-length", b"11")],
    )
    sent = _serve(_echo_environ, scope, [b"hello", b" ", b"world"])
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 201
    assert (b"x-thread", b"w") in sent[0]["headers"]
    assert not sent[1].get("more_body", False)
    seen = json.loads(sent[1]["body"])
    assert seen["body"] == "hello world"
    assert seen["REQUEST_METHOD"] == "POST" and seen["QUERY_STRING"] == "x=1"
    assert seen["CONTENT_LENGTH"] == "11" and seen["HTTP_HOST"] == "demo.localhost"


def _recording_app(called: list[dict[str, Any]]) -> Any:
    """An application that notes each environ it is given and answers 200."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(environ)
        start_response("200 OK", [])
        return [b""]

    return app


def test_a_body_over_the_limit_is_refused_before_the_app_runs():
    called: list[dict[str, Any]] = []
    app = _recording_app(called)
    declared = _scope(method="POST", headers=[(b"content-length", b"5000")])
    sent = _serve(app, declared, [b"x"], max_body_bytes=100)
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "body_too_large"
    # No Content-Length (chunked upload): counted as it arrives.
    sent = _serve(app, _scope(method="POST"), [b"x" * 60, b"x" * 60], max_body_bytes=100)
    assert sent[0]["status"] == 413
    assert called == []
    sent = _serve(app, _scope(method="POST"), [b"x" * 100], max_body_bytes=100)
    assert sent[0]["status"] == 200 and len(called) == 1


def test_a_client_gone_before_its_body_is_complete_never_reaches_the_app():
    called: list[dict[str, Any]] = []
    app = _recording_app(called)
    # Half the body arrives, announced as more to come; then the connection closes.
    pending = [{"type": "http.request", "body": b"12345", "more_body": True}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    bridge = WSGIBridge(app, workers=1, max_body_bytes=100)
    scope = _scope(method="POST", headers=[(b"content-length", b"10")])
    asyncio.run(bridge(scope, receive, send))
    bridge.executor.shutdown(wait=True)
    assert called == [] and sent == []


def test_a_body_not_received_in_time_gets_408_and_never_reaches_the_app():
    called: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"12345", "more_body": True}
        await asyncio.Event().wait()  # the client stops sending, connection open
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    bridge = WSGIBridge(_recording_app(called), workers=1, max_body_bytes=100, body_timeout_s=0.2)
    scope = _scope(method="POST", headers=[(b"content-length", b"10")])
    try:
        asyncio.run(asyncio.wait_for(bridge(scope, receive, send), timeout=5))
    finally:
        bridge.executor.shutdown(wait=True)
    assert called == []
    assert sent[0]["status"] == 408
    assert (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {
        "detail": "request body not received within 0.2 s",
        "code": "body_timeout",
    }


def test_a_slow_client_is_dropped_by_a_real_server():
    import socket
    import time

    import uvicorn

    called: list[dict[str, Any]] = []
    bridge = WSGIBridge(_recording_app(called), workers=1, max_body_bytes=100, body_timeout_s=0.3)
    config = uvicorn.Config(bridge, host="127.0.0.1", port=0, lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            started = time.monotonic()
            client.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
            received = b""
            while chunk := client.recv(4096):  # b"" once the server closes
                received += chunk
            elapsed = time.monotonic() - started
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        bridge.executor.shutdown(wait=True)
    assert received.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "body_timeout"' in received
    assert 0.3 <= elapsed < 3 and called == []


def test_requests_beyond_the_queue_are_refused_with_503_at_once():
    release = threading.Event()
    running: list[str] = []

    def slow(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        running.append(environ["PATH_INFO"])
        release.wait(timeout=10)
        start_response("200 OK", [])
        return [b"done"]

    bridge = WSGIBridge(slow, workers=1, max_body_bytes=100, max_queue=1)

    async def request(path: str) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await bridge(_scope(path), receive, send)
        return sent

    async def scenario() -> tuple[list[Any], list[dict[str, Any]], int, list[dict[str, Any]]]:
        first = asyncio.create_task(request("/running"))
        second = asyncio.create_task(request("/queued"))
        while bridge.in_flight < 2:
            await asyncio.sleep(0.01)
        refused = await asyncio.wait_for(request("/refused"), timeout=2)
        in_flight = bridge.in_flight
        release.set()
        served = await asyncio.gather(first, second)
        after = await request("/after")
        return served, refused, in_flight, after

    try:
        served, refused, in_flight, after = asyncio.run(scenario())
    finally:
        release.set()
        bridge.executor.shutdown(wait=True)
    assert refused[0]["status"] == 503 and in_flight == 2
    assert (b"retry-after", b"1") in refused[0]["headers"]
    assert (b"content-type", b"application/json") in refused[0]["headers"]
    assert json.loads(refused[1]["body"])["code"] == "overloaded"
    assert [sent[0]["status"] for sent in served] == [200, 200]
    assert after[0]["status"] == 200 and bridge.in_flight == 0
    assert running == ["/running", "/queued", "/after"]  # the refused one never ran


def test_a_streaming_response_is_sent_as_it_is_produced():
    produced: list[str] = []

    def events() -> Iterator[bytes]:
        for n in range(3):
            produced.append(threading.current_thread().name)
            yield f"event {n}\n".encode()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        response = StreamingHttpResponse(events(), content_type="text/event-stream")
        start_response("200 OK", list(response.items()))
        return response

    sent = _serve(app, _scope("/events"))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    bodies = [m for m in sent[1:]]
    assert [m["body"] for m in bodies] == [b"event 0\n", b"event 1\n", b"event 2\n", b""]
    assert [m.get("more_body", False) for m in bodies] == [True, True, True, False]
    assert all(name.startswith("web") for name in produced)  # on a worker, not the loop


def test_an_exception_in_the_app_reaches_the_server():
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        _serve(app, _scope())


def test_lifespan_and_websocket():
    bridge = WSGIBridge(_echo_environ, workers=1, max_body_bytes=10)
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(bridge({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    sent.clear()
    asyncio.run(
        WSGIBridge(_echo_environ, workers=1, max_body_bytes=10)(
            {"type": "websocket"}, receive, send
        )
    )
    assert sent == [{"type": "websocket.close", "code": 1000}]


def test_cookies_from_django_go_out_as_valid_header_values(db):
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    bridge = WSGIBridge(get_wsgi_application(), workers=1, max_body_bytes=1024)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = _scope("/admin/login/", headers=[(b"host", b"testserver")])
    try:
        asyncio.run(bridge(scope, receive, send))
    finally:
        bridge.executor.submit(connections.close_all).result()
        bridge.executor.shutdown(wait=True)
    assert sent[0]["status"] == 200
    cookies = [value for name, value in sent[0]["headers"] if name == b"set-cookie"]
    assert cookies and cookies[0].startswith(b"csrftoken=")  # no leading space
    assert all(value == value.strip() for _, value in sent[0]["headers"])


def test_make_run_serves_the_admin_static_files_streamed():
    from django.contrib.staticfiles.handlers import StaticFilesHandler

    from config.asgi import build_application

    served = build_application({"WEB_SERVE_STATIC": "1", "WEB_THREADS": "1"})
    served.executor.shutdown()
    plain = build_application(
        {"WEB_MAX_BODY_BYTES": "5", "WEB_BODY_TIMEOUT_S": "2.5", "WEB_MAX_QUEUE": "7"}
    )
    plain.executor.shutdown()
    assert plain.max_body_bytes == 5 and not isinstance(plain.app, StaticFilesHandler)
    assert (plain.body_timeout_s, plain.max_queue) == (2.5, 7)
    assert (served.body_timeout_s, served.max_queue) == (30.0, 64)
    assert isinstance(served.app, StaticFilesHandler)
    sent = _serve(served.app, _scope("/static/admin/css/base.css"))
    assert sent[0]["status"] == 200
    assert (b"content-type", b"text/css") in sent[0]["headers"]
    body = b"".join(m["body"] for m in sent[1:])
    assert b"font-family" in body and not sent[-1].get("more_body", False)
    assert len(sent) >= 3  # a FileResponse streams: start, chunk(s), end


@pytest.mark.django_db(transaction=True)
def test_django_through_the_bridge_keeps_the_worker_connection(tenant):
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    from tests.helpers import init_data_for

    headers = [
        (b"host", tenant.domains.first().domain.encode()),
        (b"authorization", ("tma " + init_data_for(tenant, user_id=4711)).encode()),
    ]
    bridge = WSGIBridge(get_wsgi_application(), workers=1, max_body_bytes=1024)
    backends: list[int] = []

    def backend_pid() -> None:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.append(cursor.fetchone()[0])

    async def exchange() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await bridge(_scope("/api/v1/me", headers=headers), receive, send)
        await asyncio.get_running_loop().run_in_executor(bridge.executor, backend_pid)
        return sent

    try:
        first = asyncio.run(exchange())
        second = asyncio.run(exchange())
    finally:
        bridge.executor.submit(connections.close_all).result()
        bridge.executor.shutdown(wait=True)
    for sent in (first, second):
        assert sent[0]["status"] == 200
        assert (b"content-type", b"application/json") in sent[0]["headers"]
        assert json.loads(sent[1]["body"])["telegram_id"] == 4711
    assert backends[0] == backends[1]  # one connection, reused by the next request
