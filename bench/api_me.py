"""``GET /api/v1/me`` against the stack a user would otherwise pick, on the same server in
the same run.

Ours: a tenant's domain, ``Authorization: tma <initData>`` signed with the tenant bot's
token, the product's middleware and DRF view. The peer (bench/peer_me.py): the same user
and membership served by django-tenants' ``TenantMainMiddleware`` as shipped, Django's
stock middleware, DRF's ``TokenAuthentication`` + ``IsAuthenticated`` and a
``ModelSerializer``. For information: a bare Django view before any middleware, and the
same view behind the product's full stack.

The server is what `make run` serves: uvicorn with config.asgi:application (one worker,
then two), log level warning, under bench/settings.py. Load comes from bench/loadgen.py
in another process: keep-alive aiohttp clients, a fixed concurrency, segments
interleaved round by round. While it runs, the server's PostgreSQL connections are
counted in pg_stat_activity (uvicorn runs with its own application_name).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
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
GOAL_RATIO = 1.0
CONCURRENCY = 8
WORKER_COUNTS = (1, 2)
HOST = "api.bench"
TELEGRAM_ID = 5551001
# libpq reads PGAPPNAME: the server's connections are told apart from this process's.
SERVER_APPLICATION_NAME = "bench-api-server"

LABELS = {
    "me": "ours: GET /api/v1/me (tma initData)",
    "peer": "peer: TenantMainMiddleware+DRF Token",
    "bare": "info: bare Django view (no middleware)",
    "routed": "info: bare view, full middleware stack",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _profile() -> dict[str, Any]:
    return {"id": TELEGRAM_ID, "first_name": "Bench", "username": "bench", "language_code": "en"}


def _init_data(token: str) -> str:
    from accounts.initdata import sign_hmac

    return sign_hmac(
        {
            "auth_date": str(int(time.time())),
            "query_id": "AAE-bench",
            "user": json.dumps(_profile(), separators=(",", ":")),
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


def _server_command(port: int, workers: int) -> list[str]:
    """One worker: uvicorn's command line, as `make run`. Several: the same supervisor
    through bench/serve.py, whose listening socket keeps TCP_NODELAY on (see there)."""
    if workers > 1:
        return [sys.executable, "-m", "bench.serve", str(port), str(workers)]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


def _start_server(port: int, workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "PYTHONPATH": os.pathsep.join(str(p) for p in SOURCE_ROOTS),
        "LOG_LEVEL": "WARNING",
        "PGAPPNAME": SERVER_APPLICATION_NAME,
    }
    return subprocess.Popen(
        _server_command(port, workers),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(server: subprocess.Popen[bytes], base: str, workers: int) -> None:
    """Until every worker has answered (the bare view names its pid; each probe is a new
    connection, which any worker may accept)."""
    pids: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            status, body = _get(base, "/bench/bare", {"Host": HOST})
            if status == 200:
                pids.add(json.loads(body)["pid"])
                if len(pids) >= workers:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{len(pids)} of {workers} uvicorn workers answered within 60 s")


def _check(base: str, segments: dict[str, dict[str, Any]]) -> None:
    """Every endpoint must really answer 200 (a fast 401 would flatter either side), the
    peer must answer what ours answers, and each side must be the stack it claims."""
    answers = {}
    for name, segment in segments.items():
        status, body = _get(base, segment["path"], segment["headers"])
        if status != 200:
            raise RuntimeError(f"{name}: HTTP {status}: {body[:300]!r}")
        answers[name] = json.loads(body)
    if answers["me"].get("telegram_id") != TELEGRAM_ID or answers["me"]["role"] == "member":
        raise RuntimeError(f"/api/v1/me answered for someone else: {answers['me']}")
    if answers["peer"] != answers["me"]:
        raise RuntimeError(f"the peer answers otherwise: {answers['peer']} != {answers['me']}")
    me, peer = segments["me"], segments["peer"]
    # An unknown host: the product's tenant middleware answers JSON, django-tenants' own
    # raises Http404 (Django's HTML page).
    stranger = {"Host": "unknown.bench"}
    status, body = _get(base, me["path"], {**me["headers"], **stranger})
    if status != 404 or body[:1] != b"{":
        raise RuntimeError("/api/v1/me is not routed by the product's tenant middleware")
    status, body = _get(base, peer["path"], {**peer["headers"], **stranger})
    if status != 404 or body[:1] == b"{":
        raise RuntimeError("the peer is not routed by django-tenants' TenantMainMiddleware")
    # Neither side takes the other's credentials.
    for name, other in (("me", peer), ("peer", me)):
        path = segments[name]["path"]
        if _get(base, path, other["headers"])[0] != 401:
            raise RuntimeError(f"{name} accepted the other side's Authorization header")


def _sessions() -> int:
    """Connections opened to this database so far (PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


class ConnectionSampler:
    """Counts the server's connections to this database in pg_stat_activity every
    ``interval`` seconds, on a connection of its own, while the load runs."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psycopg2

        conn = psycopg2.connect(os.environ["DATABASE_URL"])
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                while not self._stop.is_set():
                    cursor.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND application_name = %s",
                        [SERVER_APPLICATION_NAME],
                    )
                    self.samples.append(cursor.fetchone()[0])
                    self._stop.wait(self.interval)
        finally:
            conn.close()

    def __enter__(self) -> ConnectionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _error_summary(line: str) -> str:
    """The event and the exception's last line of one JSON log record."""
    try:
        record = json.loads(line)
    except ValueError:
        return line[:500]
    exc = str(record.get("exc", "")).strip().splitlines()
    return f"{record.get('event', '')}: {exc[-1] if exc else ''}"[:500]


def _drive(
    workers: int,
    plan: dict[str, Any],
    segments: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Start the server, check every endpoint once, run the load plan while counting the
    server's database connections, stop the server."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    sessions_before = _sessions()
    with tempfile.TemporaryFile() as log:
        server = _start_server(port, workers, log)
        try:
            _wait_ready(server, base, workers)
            _check(base, segments)
            say(f"  {workers} worker(s): python " + " ".join(_server_command(port, workers)[1:]))
            plan = {
                **plan,
                "base_url": base,
                "segments": [{"name": name, **s} for name, s in segments.items()],
            }
            with ConnectionSampler() as sampler:
                loadgen = subprocess.run(
                    [sys.executable, "-m", "bench.loadgen"],
                    input=json.dumps(plan).encode(),
                    stdout=subprocess.PIPE,
                    cwd=ROOT,
                    check=True,
                )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.seek(0)
        server_output = log.read().decode(errors="replace")
    time.sleep(1.0)  # statistics reach pg_stat_database within a second
    return {
        "results": json.loads(loadgen.stdout),
        "connections": sampler.samples,
        # Less the sampler's own connection.
        "sessions": _sessions() - sessions_before - 1,
        "server_output": server_output,
    }


def _report(workers: int, run: dict[str, Any], names: list[str]) -> dict[str, dict[str, float]]:
    """Print one server's figures; return req/s and p99 per endpoint."""
    from django.conf import settings

    results = run["results"]
    errors: Counter[str] = Counter()
    for r in results:
        for status, count in r["statuses"].items():
            if status != "200":
                errors[f"{r['name']} HTTP {status}"] += count
    if errors:
        # The server's failure, not the benchmark's: report it beside the figures.
        first = next(
            (line for line in run["server_output"].splitlines() if '"level": "error"' in line),
            "",
        )
        say(f"  SERVER ERRORS under load: {dict(errors)}; first logged error (cut):")
        say("    " + _error_summary(first))
    figures: dict[str, dict[str, float]] = {}
    say(
        f"    {'endpoint':<40} {'req/s (median)':>14} {'(rounds)':>11} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'requests':>9}"
    )
    for name in names:
        mine = [r for r in results if r["name"] == name]
        latencies = [x for r in mine for x in r["latencies_ms"]]
        figures[name] = {
            "rps": median([r["rps"] for r in mine]),
            "p99": percentile(latencies, 99),
            "errors": sum(n for key, n in errors.items() if key.startswith(name + " ")),
        }
        spread = f"{min(r['rps'] for r in mine):.0f}-{max(r['rps'] for r in mine):.0f}"
        say(
            f"    {LABELS[name]:<40} {figures[name]['rps']:>14.0f} {spread:>11} "
            f"{percentile(latencies, 50):>8.2f} {figures[name]['p99']:>8.2f} {len(latencies):>9}"
        )
    if errors:
        say("    (error answers are counted in req/s and latencies above)")
    samples = run["connections"]
    if not samples or not max(samples):
        raise RuntimeError("pg_stat_activity showed none of the server's connections")
    say(
        f"    database connections of the server during the load (pg_stat_activity, "
        f"{len(run['connections'])} samples): peak {max(samples)}, median "
        f"{median(samples):.0f}; opened in all: {run['sessions']} (pg_stat_database; one "
        f"lives at most CONN_MAX_AGE = {settings.DATABASES['default']['CONN_MAX_AGE']} s)"
    )
    return figures


def _in_process(segments: dict[str, dict[str, Any]], rounds: int, count: int) -> dict[str, float]:
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

    timings: dict[str, list[float]] = {name: [] for name in segments}
    for segment in segments.values():  # warm-up
        for _ in range(max(count // 10, 1)):
            call(segment["path"], segment["headers"])
    for _ in range(rounds):
        for name, segment in segments.items():
            start = time.perf_counter()
            for _ in range(count):
                call(segment["path"], segment["headers"])
            timings[name].append((time.perf_counter() - start) / count * 1e6)
    connections.close_all()
    return {name: median(values) for name, values in timings.items()}


def _fixtures() -> dict[str, dict[str, Any]]:
    """The tenant, its admin (a real membership both sides read), the peer's account for
    the same Telegram user, and the request of each endpoint."""
    from accounts.roles import Role
    from accounts.services import membership_set_role, user_touch
    from bench.peer_me import PEER_ME_PATH, peer_account_create
    from tenancy.services import tenant_create

    token = bot_token_for(1)
    tenant = tenant_create(slug="bench-api", name="Bench API", domain=HOST, bot_token=token)
    user = user_touch(profile=_profile(), tenant=tenant)
    membership_set_role(tenant=tenant, user=user, role=Role.ADMIN)
    peer_token = peer_account_create(telegram_id=TELEGRAM_ID)
    return {
        "me": {
            "path": "/api/v1/me",
            "headers": {"Host": HOST, "Authorization": "tma " + _init_data(token)},
        },
        "peer": {
            "path": PEER_ME_PATH,
            "headers": {"Host": HOST, "Authorization": "Token " + peer_token},
        },
        "bare": {"path": "/bench/bare", "headers": {"Host": HOST}},
        "routed": {"path": "/bench/routed", "headers": {"Host": HOST}},
    }


def run() -> None:
    rounds = pick(5, 1)
    duration = 0.5 if quick() else 5.0
    warmup = 0.2 if quick() else 1.0
    header(
        "api_me: GET /api/v1/me (tenant routing + tma auth) vs the conventional stack "
        "(TenantMainMiddleware, DRF TokenAuthentication, ModelSerializer)"
    )
    platform_ready()
    segments = _fixtures()
    say(
        f"  load: {CONCURRENCY} keep-alive clients, {rounds} rounds x {duration:g} s per "
        f"endpoint (after {warmup:g} s warm-up), interleaved; the same server answers all four"
    )
    plan = {"concurrency": CONCURRENCY, "rounds": rounds, "duration": duration, "warmup": warmup}
    figures = {}
    for workers in WORKER_COUNTS:
        figures[workers] = _report(workers, _drive(workers, plan, segments), list(segments))

    say(
        "  req/s with "
        + " / ".join(str(w) for w in WORKER_COUNTS)
        + " worker(s): "
        + ", ".join(
            f"{name} " + " / ".join(f"{figures[w][name]['rps']:.0f}" for w in WORKER_COUNTS)
            for name in segments
        )
    )
    inside = _in_process(segments, rounds, 200 if quick() else 500)
    say(
        "  in this process, one thread, no server (Django's WSGI handler called directly), "
        "µs per request: " + ", ".join(f"{name} {inside[name]:.0f}" for name in segments)
    )
    for workers in WORKER_COUNTS:
        me, peer = figures[workers]["me"], figures[workers]["peer"]
        ratio = me["rps"] / peer["rps"]
        errors = me["errors"] + peer["errors"]
        goal(
            f"me / peer >= {GOAL_RATIO:g} ({ratio:.2f}) and p99 me <= peer "
            f"({me['p99']:.2f} <= {peer['p99']:.2f} ms), {workers} worker(s)"
            + (f", and no server errors ({errors})" if errors else ""),
            ratio >= GOAL_RATIO and me["p99"] <= peer["p99"] and not errors,
        )
