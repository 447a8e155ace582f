"""``manage.py run`` and ``manage.py setup``: the demo tenant (made again after it was
deleted), and both commands in processes of their own on a fresh database: they set up,
serve, and stop on Ctrl-C with nothing of theirs left running."""

from __future__ import annotations

import contextlib
import io
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from django.core.management import call_command

from config.dbserver import connection_url, embedded_server_running
from devserver.demo import DEMO_GROUP_ID
from devserver.management.commands.run import DEFAULT_DEMO_BOT_TOKEN, DEMO_DOMAIN
from tenancy.models import Bot, Tenant
from tenancy.selectors import tenant_bots, tenant_for_domain
from tenancy.services import tenant_delete

DEMO_BOT = int(DEFAULT_DEMO_BOT_TOKEN.split(":", 1)[0])
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_setup(db, monkeypatch):
    """``run --no-serve`` as ``make run`` sets up, in the test's transaction (the standard
    executor migrates tenant schemas in this process). Returns what it printed."""
    monkeypatch.setenv("EXECUTOR", "standard")
    monkeypatch.delenv("DEMO_BOT_TOKEN", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/resolved-at-start")

    def run() -> str:
        out = io.StringIO()
        call_command("run", "--no-serve", stdout=out)
        return out.getvalue()

    return run


def test_run_hands_its_database_to_the_processes_it_starts(run_setup):
    run_setup()
    assert os.environ["DATABASE_URL"] == connection_url()  # the test database


def test_run_makes_a_fresh_demo_after_the_demo_was_deleted(run_setup):
    run_setup()
    first = tenant_for_domain(domain=DEMO_DOMAIN)
    assert first is not None and first.status == Tenant.Status.ACTIVE and first.slug == "demo"
    assert [bot for bot, _ in tenant_bots(tenant=first)] == [DEMO_BOT]
    assert f"demo tenant {first.slug!r} at {DEMO_DOMAIN} is ready" in run_setup()

    tenant_delete(tenant=first, confirm=first.slug)
    printed = run_setup()

    fresh = tenant_for_domain(domain=DEMO_DOMAIN)
    assert fresh is not None and fresh.pk != first.pk
    assert fresh.status == Tenant.Status.ACTIVE and fresh.slug == "demo-2"
    assert f"created the demo tenant {fresh.slug!r} at {DEMO_DOMAIN}" in printed
    assert Bot.objects.get(telegram_id=DEMO_BOT).tenant == fresh
    assert [bot for bot, _ in tenant_bots(tenant=fresh)] == [DEMO_BOT]
    first.refresh_from_db()
    assert first.status == Tenant.Status.DELETED and not first.bots.exists()


# ---- the commands as `make run` / `make migrate` start them, in processes of their own ----


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _admin(sql: str) -> None:
    server = psycopg2.connect(connection_url(database="postgres"))
    try:
        server.autocommit = True
        with server.cursor() as cursor:
            cursor.execute(sql)
    finally:
        server.close()


@pytest.fixture(scope="module")
def scratch_url(django_db_blocker):
    """A database of its own on the suite's server (the embedded one included), empty as
    on a fresh clone: what the commands do there stays out of the test database."""
    name = f"bragabot_run_test_{os.getpid()}"
    with django_db_blocker.unblock():
        url = connection_url(database=name)
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _admin(f'CREATE DATABASE "{name}"')
    yield url
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start(args: list[str], database_url: str | None, log) -> subprocess.Popen[str]:
    """``manage.py ARGS`` on ``database_url`` (None: DATABASE_URL unset, the embedded
    server, as on a fresh clone)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url or "",
        "SANDBOX_PORT": str(_free_port()),
        "SANDBOX_PROVIDER_PORT": str(_free_port()),
        "PUBLIC_DOMAIN": "localhost",
        "LOG_LEVEL": "WARNING",
    }
    for name in (
        "TELEGRAM_API_BASE",
        "DEMO_BOT_TOKEN",
        "PLATFORM_BOT_TOKEN",
        "MINI_APP_URL",
        "WALLET_PROVIDERS",
    ):
        env.pop(name, None)
    if database_url is None:
        del env["DATABASE_URL"]
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,  # a process group of its own, as a shell gives a job
    )


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in iter(process.stdout.readline, ""):
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], text: str, timeout: float) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(queue.Empty):
            seen.append(lines.get(timeout=0.1))
            if text in seen[-1]:
                return seen
    raise AssertionError(f"{text!r} not printed within {timeout:g} s; got {seen!r}")


def _still_running(group: int) -> list[str]:
    """What runs in process group or session ``group`` (zombies run nothing)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                continue
            if group in (os.getpgid(pid), os.getsid(pid)):
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" "))
        except (OSError, IndexError):  # it exited while we looked
            continue
    return [cmd.decode(errors="replace").strip() for cmd in found]


def _assert_nothing_left(group: int) -> None:
    deadline = time.monotonic() + 10
    while (left := _still_running(group)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left == []


def _get(url: str, host: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Host": host})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_setup_migrates_a_fresh_database_and_leaves_nothing_running(scratch_url, tmp_path):
    with open(tmp_path / "stderr", "w+") as log:
        process = _start(["setup"], scratch_url, log)
        try:
            out, _ = process.communicate(timeout=180)
            log.seek(0)
            assert process.returncode == 0, log.read()
            _assert_nothing_left(process.pid)
        finally:  # whatever the outcome, nothing outlives the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
    assert "migrating the public schema ..." in out and "setup done in" in out
    done = psycopg2.connect(scratch_url)
    try:
        with done.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM tenancy_schematemplate")
            assert cursor.fetchone() == (1,)
            cursor.execute("SELECT slug FROM tenancy_tenant WHERE schema_name = 'public'")
            assert cursor.fetchone() == ("public",)
    finally:
        done.close()


def _json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _assert_the_demo_feed_runs(printed: list[str], lines: queue.Queue[str], x_base: str) -> None:
    """The demo project posts on the sandbox X within seconds; with the X feed installed,
    its post reaches the demo group on the sandbox Telegram within a minute, as a
    newcomer opening the group as Alice sees it."""
    assert any("X feed demo: @bragabot_demo posts" in line for line in printed), printed
    bearer = {"Authorization": "Bearer demo-sandbox-x-app-token-not-real"}
    project = _json(f"{x_base}/2/users/by/username/bragabot_demo", bearer)["data"]["id"]
    deadline = time.monotonic() + 30
    while not _json(f"{x_base}/2/users/{project}/tweets", bearer).get("data"):
        assert time.monotonic() < deadline, "the demo project posted nothing"
        time.sleep(0.5)
    if any("X feed: manage.py xfeed is not installed" in line for line in printed):
        return
    [tg_line] = [line for line in printed if "sandbox Telegram: " in line]
    tg_base = tg_line.split(": ", 1)[1].split("/sandbox/", 1)[0]
    deadline = time.monotonic() + 60
    while True:
        messages = _json(f"{tg_base}/sandbox/api/chats/{DEMO_GROUP_ID}/messages")
        if any("bragabot_demo" in (m.get("text") or "") for m in messages):
            return
        assert time.monotonic() < deadline, f"nothing forwarded to the demo group: {messages}"
        time.sleep(0.5)


@pytest.mark.parametrize("database", ["scratch", "embedded"])
def test_run_serves_and_stops_on_ctrl_c_with_nothing_left_running(database, scratch_url, tmp_path):
    """On a scratch database of the suite's server, and on the embedded server as ``make
    run`` on a fresh clone (its ``postgres`` database): an embedded server the command
    started is stopped too (when this suite runs on it, it stays up for the suite)."""
    embedded_before = embedded_server_running()
    port = _free_port()
    with open(tmp_path / "stderr", "w+") as log:
        url = scratch_url if database == "scratch" else None
        process = _start(["run", "--port", str(port)], url, log)
        lines = _lines(process)
        try:
            printed = _wait_for(lines, "Press Ctrl-C to stop.", timeout=180)
            assert any("bot runtime: hosting " in line for line in printed)
            # The X feed's stream worker (XFEED_MODE=stream, the default) is connected.
            if not any("xfeed: connects 1" in line for line in printed):
                _wait_for(lines, "xfeed: connects 1", timeout=30)
            [provider_line] = [line for line in printed if "sandbox payment provider: " in line]
            [x_line] = [line for line in printed if "sandbox X: " in line]
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:  # uvicorn listens a moment after the banner
                try:
                    status, body = _get(f"{base}/api/schema/?format=json", "localhost")
                    break
                except OSError:
                    assert time.monotonic() < deadline, "the web server did not answer"
                    time.sleep(0.1)
            assert status == 200 and "/api/v1/me" in json.loads(body)["paths"]
            status, body = _get(f"{base}/", DEMO_DOMAIN)
            assert status == 200 and b"<h1>Demo community</h1>" in body
            # The sandbox X answers the platform's app token, with the demo project on it.
            x_base = x_line.split(": ", 1)[1].split("/sandbox/", 1)[0]
            project = urllib.request.Request(
                f"{x_base}/2/users/by/username/bragabot_demo",
                headers={"Authorization": "Bearer demo-sandbox-x-app-token-not-real"},
            )
            with urllib.request.urlopen(project, timeout=10) as response:
                assert json.loads(response.read())["data"]["username"] == "bragabot_demo"
            assert b"@demo_bot" in body
            _assert_the_demo_feed_runs(printed, lines, x_base)
            # The sandbox provider delivers to this server, which checks the signature
            # (a reference of no group: 404 unknown_group, where a bad signature is 401).
            provider = provider_line.split(": ", 1)[1].split("/ ", 1)[0]
            deposit = urllib.request.Request(
                f"{provider}/control/deposits",
                data=json.dumps({"reference": "nobody", "currency": "USDT", "amount": 1}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(deposit, timeout=10) as response:
                event_id = json.loads(response.read())["event"]["id"]
            deadline = time.monotonic() + 30
            while True:
                _, body = _get(f"{provider}/control/events/{event_id}", "localhost")
                attempts = json.loads(body)["attempts"]
                if attempts:
                    break
                assert time.monotonic() < deadline, "the provider delivered nothing"
                time.sleep(0.1)
            assert attempts[0]["status"] == 404, attempts

            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C reaches the whole job
            assert process.wait(timeout=60) == 0
            _assert_nothing_left(process.pid)
            if not embedded_before:  # pg_ctl runs it in a session of its own
                assert not embedded_server_running()
        finally:  # whatever the outcome, nothing outlives the test
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.seek(0)
        assert "Traceback" not in log.read()
