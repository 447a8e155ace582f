"""Routing + auth overhead: ``GET /api/v1/me`` on a tenant's domain, authenticated with
``Authorization: tma <initData>`` signed with the tenant bot's token, against a bare
Django view on the same server, in the same run.

The server is what `make run` serves: uvicorn with config.asgi:application, one worker,
log level warning, here under bench/settings.py (which only adds the baseline views of
bench/http_app.py). Load comes from bench/loadgen.py in another process: keep-alive
aiohttp clients, a fixed concurrency, segments interleaved round by round.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import IO, Any

from bench.common import (
    ROOT,
    SOURCE_ROOTS,
    bot_token_for,
    goal,
    header,
    median,
    percentile,
    pick,
    platform_ready,
    quick,
    say,
)

SETTINGS = "bench.settings"
GOAL_RATIO = 0.6
CONCURRENCY = 8
HOST = "api.bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _init_data(token: str) -> str:
    from accounts.initdata import sign_hmac

    user = {"id": 5551001, "first_name": "Bench", "username": "bench", "language_code": "en"}
    return sign_hmac(
        {
            "auth_date": str(int(time.time())),
            "query_id": "AAE-bench",
            "user": json.dumps(user, separators=(",", ":")),
        },
        token,
    )


def _get(base: str, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(base + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _start_server(port: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONPATH": os.pathsep.join(str(p) for p in SOURCE_ROOTS),
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(server: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            if _get(base, "/bench/bare", {"Host": HOST})[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("uvicorn did not answer within 30 s")


def _check(base: str, segments: list[dict[str, Any]]) -> None:
    """Every endpoint must really answer 200 (a fast 401 would flatter /me)."""
    for segment in segments:
        status, body = _get(base, segment["path"], segment["headers"])
        if status != 200:
            raise RuntimeError(f"{segment['name']}: HTTP {status}: {body[:300]!r}")
    me = json.loads(_get(base, "/api/v1/me", segments[-1]["headers"])[1])
    if me.get("telegram_id") != 5551001:
        raise RuntimeError(f"/api/v1/me answered for someone else: {me}")


def _sessions() -> int:
    """Connections opened to this database so far (PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def _error_summary(line: str) -> str:
    """The event and the exception's last line of one JSON log record."""
    try:
        record = json.loads(line)
    except ValueError:
        return line[:500]
    exc = str(record.get("exc", "")).strip().splitlines()
    return f"{record.get('event', '')}: {exc[-1] if exc else ''}"[:500]


def _drive(
    port: int,
    log: IO[bytes],
    rounds: int,
    duration: float,
    warmup: float,
    segments: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Start the server, check every endpoint once, run the load plan, stop the server."""
    base = f"http://127.0.0.1:{port}"
    server = _start_server(port, log)
    try:
        _wait_ready(server, base)
        _check(base, segments)
        say(
            f"  server: uvicorn config.asgi:application, 1 worker, port {port}; "
            f"load: {CONCURRENCY} keep-alive clients, {rounds} rounds x {duration:g} s "
            f"per endpoint (after {warmup:g} s warm-up), interleaved"
        )
        plan = {
            "base_url": base,
            "concurrency": CONCURRENCY,
            "rounds": rounds,
            "duration": duration,
            "warmup": warmup,
            "segments": segments,
        }
        loadgen = subprocess.run(
            [sys.executable, "-m", "bench.loadgen"],
            input=json.dumps(plan).encode(),
            stdout=subprocess.PIPE,
            cwd=ROOT,
            check=True,
        )
        return json.loads(loadgen.stdout)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _in_process(segments: list[dict[str, Any]], rounds: int, count: int) -> dict[str, float]:
    """Wall µs per request with Django's WSGI handler called directly, one thread, no
    server: what each endpoint itself costs (median of ``rounds``)."""
    import io

    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    app = get_wsgi_application()

    def call(path: str, headers: dict[str, str]) -> None:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SERVER_NAME": HOST,
            "SERVER_PORT": "80",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        for name, value in headers.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        statuses: list[str] = []
        body = app(environ, lambda status, _headers: statuses.append(status))
        b"".join(body)
        body.close()
        if not statuses[0].startswith("200"):
            raise RuntimeError(f"{path}: {statuses[0]} in process")

    timings: dict[str, list[float]] = {s["name"]: [] for s in segments}
    for segment in segments:  # warm-up
        for _ in range(max(count // 10, 1)):
            call(segment["path"], segment["headers"])
    for _ in range(rounds):
        for segment in segments:
            start = time.perf_counter()
            for _ in range(count):
                call(segment["path"], segment["headers"])
            timings[segment["name"]].append((time.perf_counter() - start) / count * 1e6)
    connections.close_all()
    return {name: median(values) for name, values in timings.items()}


def run() -> None:
    from tenancy.services import tenant_create

    rounds = pick(5, 1)
    duration = 0.5 if quick() else 5.0
    warmup = 0.2 if quick() else 1.0
    header("api_me: GET /api/v1/me (tenant routing + tma auth) vs a bare Django view")
    platform_ready()
    token = bot_token_for(1)
    tenant_create(slug="bench-api", name="Bench API", domain=HOST, bot_token=token)
    auth = {"Host": HOST, "Authorization": "tma " + _init_data(token)}
    segments = [
        {"name": "bare", "path": "/bench/bare", "headers": {"Host": HOST}},
        {"name": "routed", "path": "/bench/routed", "headers": {"Host": HOST}},
        {"name": "me", "path": "/api/v1/me", "headers": auth},
    ]
    port = _free_port()
    sessions_before = _sessions()
    with tempfile.TemporaryFile() as log:
        results = _drive(port, log, rounds, duration, warmup, segments)
        log.seek(0)
        server_output = log.read().decode(errors="replace")
    time.sleep(1.0)  # statistics reach pg_stat_database within a second
    sessions = _sessions() - sessions_before
    errors: Counter[str] = Counter()
    for r in results:
        for status, count in r["statuses"].items():
            if status != "200":
                errors[f"{r['name']} HTTP {status}"] += count
    if errors:
        # The server's failure, not the benchmark's: report it beside the figures.
        first = next(
            (line for line in server_output.splitlines() if '"level": "error"' in line), ""
        )
        say(f"  SERVER ERRORS under load: {dict(errors)}; first logged error (cut):")
        say("    " + _error_summary(first))

    labels = {
        "bare": "bare Django view (no middleware)",
        "routed": "bare view, full middleware stack",
        "me": "GET /api/v1/me (routing + auth)",
    }
    rps: dict[str, float] = {}
    say(f"  {'endpoint':<36} {'req/s (median)':>14} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}")
    for segment in segments:
        name = segment["name"]
        mine = [r for r in results if r["name"] == name]
        latencies = [x for r in mine for x in r["latencies_ms"]]
        rps[name] = median([r["rps"] for r in mine])
        say(
            f"  {labels[name]:<36} {rps[name]:>14.0f} {percentile(latencies, 50):>8.2f} "
            f"{percentile(latencies, 99):>8.2f} {len(latencies):>9}"
        )
    if errors:
        say("  (error answers are counted in req/s and latencies above)")
    # Only /api/v1/me touches the database: a count near its request count means the
    # server opened a connection per request instead of reusing one.
    me_requests = 2 + sum(r["count"] + r["warmup_count"] for r in results if r["name"] == "me")
    say(
        f"  database connections the server opened: {sessions} "
        f"for {me_requests} GET /api/v1/me requests (warm-up and checks included)"
    )
    say(
        f"  routed / bare: {rps['routed'] / rps['bare']:.2f}   "
        f"me / routed: {rps['me'] / rps['routed']:.2f}"
    )
    inside = _in_process(segments, rounds, 200 if quick() else 2000)
    say(
        "  in this process, one thread, no server (Django's WSGI handler called directly), "
        "µs per request: "
        + ", ".join(f"{name} {inside[name]:.0f}" for name in ("bare", "routed", "me"))
    )
    # What the server itself adds per request, and the most /me could cost for the goal
    # if the server added nothing more to it than to the bare view.
    server_cost = 1e6 / rps["bare"] - inside["bare"]
    budget = (server_cost + inside["bare"]) / GOAL_RATIO - server_cost
    say(
        f"  the server's own cost per request: {server_cost:.0f} µs (1 / bare req/s, less the "
        f"bare view); at that cost me / bare >= {GOAL_RATIO} needs /me <= {budget:.0f} µs "
        f"in process at best (it takes {inside['me']:.0f})"
    )
    ratio = rps["me"] / rps["bare"]
    goal(
        f"me / bare >= {GOAL_RATIO} ({ratio:.2f})"
        + (f", and no server errors ({sum(errors.values())})" if errors else ""),
        ratio >= GOAL_RATIO and not errors,
    )
