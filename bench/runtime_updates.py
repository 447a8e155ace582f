"""Update throughput of the bot runtime: group messages POSTed to its webhook server, each
recorded for dedupe, resolved to its community and counted on the leaderboard (buffered
and written to PostgreSQL by the runtime in batches), against a bare python-telegram-bot
bot behind the same webhook front, in the same run.

- runtime: ``manage.py runbots --webhook ...`` hosting one bot per community, each bot an
  administrator of one bound supergroup on the sandbox Telegram (real default flood
  limits; the runtime only calls it at start). One process, pinned to one CPU core with
  ``taskset``; durable jobs on, as runbots runs by default.
- bare: one python-telegram-bot ``Application`` per bot with a single MessageHandler that
  does nothing (it counts, so the benchmark knows when it is done), fed by the runtime's
  webhook front minus dedupe (path, secret check, ``Update.de_json``, ``update_queue``);
  its own process, pinned to the same core.

The members of each group write in turn (one message each before anyone writes again:
moderation's flood rule stays quiet, and per-member caches see each member rarely). The
Update JSON is what the sandbox produces for each message (then dropped from its
queues), POSTed with the bot's ``X-Telegram-Bot-Api-Secret-Token`` by a driver process
on another core over keep-alive connections, 40 per bot: as many as Telegram opens to a
webhook with updates waiting (its default ``max_connections``). The runtime's PostgreSQL
backends are kept off the runtime's core (on the driver's): in production the database
is another machine, and its work is printed apart (CPU per update). Throughput is end
to end: from the first POST until every update was handled (the leaderboard rows sum to
what was sent, or the bare bot's counter does), so a queue that only grows cannot
flatter it. Segments are interleaved round by round. Afterwards a sample is POSTed again
(Telegram redelivers), and every (group, user) row of the leaderboard must equal what
was sent: no update lost, none counted twice.

Child roles of this module: ``python -m bench.runtime_updates bare`` (the bare bot) and
``python -m bench.runtime_updates drive`` (the load driver), each reading a JSON plan on
stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
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

GOAL_UPDATES_PER_S = 300.0
GOAL_RATIO = 0.5
# The driver's keep-alive connections per bot: Telegram's default for a webhook
# (setWebhook max_connections, which the runtime leaves unset): with updates waiting,
# Telegram delivers a bot's over up to that many connections at once.
CONNECTIONS_PER_BOT = 40
FIRST_BOT = 300  # bot_token_for(n): this benchmark's bots
CHAT_BASE = -1_003_300_000_000
USER_BASE = 7_300_000_000


# --- Child processes ----------------------------------------------------------------------


def cores() -> tuple[int | None, int | None]:
    """(server core, driver core): the first and last CPU this process may use, or None
    when there is no ``taskset`` to pin with."""
    if shutil.which("taskset") is None:
        return None, None
    allowed = sorted(os.sched_getaffinity(0))
    return allowed[0], allowed[-1]


def pinned(cmd: list[str], core: int | None) -> list[str]:
    return cmd if core is None else ["taskset", "-c", str(core), *cmd]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child process: on this process's (scratch) database."""
    from config.dbserver import connection_url

    return {
        **os.environ,
        "DATABASE_URL": connection_url(),
        "PYTHONPATH": os.pathsep.join(str(p) for p in SOURCE_ROOTS),
        "LOG_LEVEL": "WARNING",
        **extra,
    }


class RunBots:
    """``manage.py runbots ARGS`` in a child process (as an operator starts it), its log on
    ``log``. ``start`` waits for its "bot runtime: hosting ..." line."""

    def __init__(
        self, args: list[str], *, api_base: str, log: IO[bytes], core: int | None = None, **env: str
    ) -> None:
        self.cmd = pinned([sys.executable, "manage.py", "runbots", *args], core)
        self.env = child_env(TELEGRAM_API_BASE=api_base, **env)
        self.log = log
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[str] = queue.Queue()
        self.banner = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 180.0) -> str:
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"runbots exited with {self.proc.returncode}") from None
                continue
            if line.startswith("bot runtime: hosting"):
                self.banner = line.strip()
                return self.banner
        self.kill()
        raise RuntimeError(f"runbots did not start within {timeout:g} s")

    def _read(self, stream: IO[str]) -> None:
        for line in iter(stream.readline, ""):
            self.lines.put(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int:
        """Send ``sig``; wait for the exit (a kill after ``timeout``); return its code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def kill(self) -> int:
        return self.stop(signal.SIGKILL)


def log_errors(log: IO[bytes]) -> list[str]:
    """The error records of a child's JSON log (event and the exception's last line)."""
    log.flush()
    log.seek(0)
    found = []
    for line in log.read().decode(errors="replace").splitlines():
        if '"level": "error"' not in line and "Traceback" not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            found.append(line[:300])
            continue
        exc = str(record.get("exc", "")).strip().splitlines()
        found.append(f"{record.get('event', '')}: {exc[-1] if exc else ''}"[:300])
    return found


# --- The bare bot (child role "bare") ------------------------------------------------------


async def _bare(plan: dict[str, Any]) -> None:
    from aiohttp import web
    from telegram import Update
    from telegram.ext import Application, MessageHandler, filters

    base = plan["api_base"]
    handled = 0

    async def nothing(update: Update, context: Any) -> None:
        nonlocal handled
        handled += 1

    bots: dict[int, tuple[Application, str]] = {}
    for bot in plan["bots"]:
        app = (
            Application.builder()
            .token(bot["token"])
            .base_url(f"{base}/bot")
            .base_file_url(f"{base}/file/bot")
            .updater(None)
            .job_queue(None)
            .build()
        )
        app.add_handler(MessageHandler(filters.ALL, nothing))
        await app.initialize()
        await app.start()
        bots[bot["id"]] = (app, bot["secret"])

    # The runtime's webhook front (botruntime.runtime.Runtime._on_webhook) without dedupe.
    async def on_webhook(request: web.Request) -> web.Response:
        try:
            app, secret = bots[int(request.match_info["bot_id"])]
        except (KeyError, ValueError):
            return web.Response(status=404)
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), app.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            update = None
        if update is None:
            return web.Response(status=400)
        await app.update_queue.put(update)
        return web.Response(status=200)

    async def count(request: web.Request) -> web.Response:
        return web.Response(text=str(handled))

    server = web.Application(client_max_size=1024 * 1024)
    server.router.add_post("/telegram/webhook/{bot_id}", on_webhook)
    server.router.add_get("/count", count)
    runner = web.AppRunner(server, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    print(f"ready {runner.addresses[0][1]}", flush=True)
    # Serve until the benchmark closes our stdin.
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()
    for app, _ in bots.values():
        await app.stop()
        await app.shutdown()


# --- The load driver (child role "drive") --------------------------------------------------


async def _drive(plan: dict[str, Any]) -> dict[str, Any]:
    import aiohttp

    with open(plan["file"], encoding="utf-8") as items_file:
        items = [json.loads(line) for line in items_file]
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    todo = iter(items)
    first, last = 0.0, 0.0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal last
        for path, secret, body in todo:
            started = time.monotonic()
            async with session.post(
                path,
                data=body.encode(),
                headers={
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": secret,
                },
            ) as response:
                await response.read()
                statuses[response.status] += 1
            done = time.monotonic()
            latencies.append((done - started) * 1000)
            last = max(last, done)

    connector = aiohttp.TCPConnector(limit=plan["connections"])
    async with aiohttp.ClientSession(plan["base_url"], connector=connector) as session:
        first = time.monotonic()
        await asyncio.gather(*(client(session) for _ in range(plan["connections"])))
    return {
        "first": first,
        "last": last,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latencies_ms": latencies,
    }


# --- The benchmark -------------------------------------------------------------------------


class Scene:
    """Communities with a bot and a bound supergroup each, on the sandbox and in the
    database, and the group messages (Update JSON) the sandbox produced for them."""

    def __init__(self, tg: Any, bots: int, members: int) -> None:
        from django.conf import settings

        from botruntime.webhook_keys import webhook_secret
        from community.services import group_bind_on_bot_added
        from tenancy.services import tenant_create

        # Binding syncs the group's admins from Telegram: the sandbox's.
        settings.TELEGRAM_API_BASE = tg.base_url
        self.tg = tg
        self.members = members
        self.bots: list[dict[str, Any]] = []
        for n in range(bots):
            token = bot_token_for(FIRST_BOT + n)
            owner = tg.add_user(USER_BASE + n * 100_000, "Owner", username=f"owner{n}")
            tenant = tenant_create(
                slug=f"bench-rt-{n}",
                name=f"Bench RT {n}",
                domain=f"rt-{n}.bench",
                owner_telegram_id=owner["id"],
                bot_token=token,
            )
            bot = tg.add_bot(token, username=f"bench_rt_{n}_bot")
            chat_id = CHAT_BASE - n
            tg.add_group(chat_id, title=f"Bench group {n}")
            tg.set_member(chat_id, owner["id"], "creator")
            tg.set_member(chat_id, bot["id"], "administrator", can_delete_messages=True)
            for m in range(members):
                user = tg.add_user(self._user(n, m), f"Member{m}", username=f"m{n}_{m}")
                tg.set_member(chat_id, user["id"], "member")
            group_bind_on_bot_added(
                tenant=tenant,
                bot_id=bot["id"],
                chat_id=chat_id,
                title=f"Bench group {n}",
                added_by_telegram_id=owner["id"],
            )
            self.bots.append(
                {
                    "id": bot["id"],
                    "token": token,
                    "secret": webhook_secret(bot["id"]),
                    "chat_id": chat_id,
                    "schema": tenant.schema_name,
                }
            )
        self._sequence = itertools.count()
        self.expected: Counter[tuple[str, int]] = Counter()  # (schema, user) -> messages

    @staticmethod
    def _user(bot: int, member: int) -> int:
        return USER_BASE + bot * 100_000 + 1 + member

    def messages(self, count: int, path: Path) -> list[list[str]]:
        """``count`` new group messages, round robin over the bots, each member in turn
        (so nobody floods: moderation's flood rule stays quiet), as the driver's items
        ``[path, secret, body]``; also written to ``path``. Their updates are dropped from
        the sandbox's queues: they reach the servers only through the driver."""
        items = []
        for _ in range(count):
            i = next(self._sequence)
            n = i % len(self.bots)
            bot = self.bots[n]
            member = (i // len(self.bots)) % self.members
            # Every fifth message is long (2 XP): both sizes go through the handler.
            text = f"gm {i}" if i % 5 else f"message {i}: " + "long enough to earn double xp " * 2
            update = self.tg.send_message(bot["id"], bot["chat_id"], self._user(n, member), text)
            if not update:
                raise RuntimeError("the sandbox produced no update for a group message")
            body = json.dumps(update, separators=(",", ":"))
            items.append([f"/telegram/webhook/{bot['id']}", bot["secret"], body])
        self.drop_pending()
        path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
        return items

    def count_for_runtime(self, items: list[list[str]]) -> None:
        by_bot = {f"/telegram/webhook/{b['id']}": b["schema"] for b in self.bots}
        for path, _, body in items:
            self.expected[(by_bot[path], json.loads(body)["message"]["from"]["id"])] += 1

    def drop_pending(self) -> None:
        for bot in self.bots:
            url = f"{self.tg.base_url}/bot{bot['token']}/deleteWebhook?drop_pending_updates=true"
            with urllib.request.urlopen(url, timeout=10) as response:
                response.read()

    def counted(self) -> int:
        """Messages on the leaderboards of every community so far."""
        from django.db import connection

        parts = [
            f'(SELECT COALESCE(SUM(messages), 0) FROM "{b["schema"]}".community_activityday)'
            for b in self.bots
        ]
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + " + ".join(parts))
            return int(cursor.fetchone()[0])

    def rows(self) -> Counter[tuple[str, int]]:
        from django.db import connection

        found: Counter[tuple[str, int]] = Counter()
        with connection.cursor() as cursor:
            for bot in self.bots:
                cursor.execute(
                    f'SELECT user_id, SUM(messages) FROM "{bot["schema"]}".community_activityday'
                    " GROUP BY user_id"
                )
                for user_id, messages in cursor.fetchall():
                    found[(bot["schema"], user_id)] += int(messages)
        return found


def _bare_count(base: str) -> int:
    with urllib.request.urlopen(base + "/count", timeout=10) as response:
        return int(response.read())


def _segment(
    base: str, path: Path, target: int, counter: Any, driver_core: int | None, connections: int
) -> dict[str, Any]:
    """Drive one segment over ``connections``; wait until ``counter()`` reaches ``target``.
    Returns the driver's result with ``done`` (monotonic time the last update was seen
    handled)."""
    plan = {"base_url": base, "file": str(path), "connections": connections}
    driver = subprocess.Popen(
        pinned([sys.executable, "-m", "bench.runtime_updates", "drive"], driver_core),
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert driver.stdin is not None
    driver.stdin.write(json.dumps(plan))
    driver.stdin.close()
    stalled_since, seen = time.monotonic(), -1
    while (now_count := counter()) < target:
        now = time.monotonic()
        if now_count != seen:
            stalled_since, seen = now, now_count
        elif driver.poll() is not None and now - stalled_since > 30:
            raise RuntimeError(
                f"only {now_count} of {target} updates were handled, none more for 30 s"
            )
        time.sleep(0.02)
    done = time.monotonic()
    assert driver.stdout is not None
    output = driver.stdout.read()
    if driver.wait(timeout=120) != 0:
        raise RuntimeError(f"the driver exited with {driver.returncode}")
    result = json.loads(output)
    result["done"] = done
    result["count"] = sum(result["statuses"].values())
    return result


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system) a process has used so far, or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backend_pids() -> list[int]:
    """The PostgreSQL backends connected to this benchmark's scratch database (the
    runtime's), other than this process's own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]


def _backends_cpu_s() -> float | None:
    """CPU seconds used so far by the runtime's backends, when the server runs on this
    machine."""
    used = [_cpu_s(pid) for pid in _backend_pids()]
    return None if not used or None in used else sum(u for u in used if u is not None)


def _backends_off_core(core: int | None, away_to: int | None) -> bool:
    """Keep the runtime's database backends off the runtime's core (on ``away_to``, the
    driver's): in production the database is another machine, and a backend scheduled
    on the runtime's core would bill the runtime for the database's work. True when they
    could be moved (a local server, and the right to)."""
    if core is None or away_to is None:
        return False
    moved = False
    for pid in _backend_pids():
        try:
            os.sched_setaffinity(pid, {away_to})
            moved = True
        except OSError:  # a remote server's, or not ours to move
            return False
    return moved


class CpuMeter:
    """CPU seconds a measure (a process's, or the runtime's backends') spends inside the
    segments it is started and stopped around."""

    def __init__(self, read: Any) -> None:
        self.read, self.total, self._at = read, 0.0, None
        self.known = True

    def start(self) -> None:
        self._at = self.read()

    def stop(self) -> None:
        now = self.read()
        if self._at is None or now is None:
            self.known = False
        else:
            self.total += max(now - self._at, 0.0)


def _start_bare(bots: list[dict[str, Any]], api_base: str, core: int | None) -> Any:
    plan = {"api_base": api_base, "bots": bots}
    proc = subprocess.Popen(
        pinned([sys.executable, "-m", "bench.runtime_updates", "bare"], core),
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(plan) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line.startswith("ready "):
        proc.kill()
        raise RuntimeError(f"the bare bot did not start: {line!r}")
    return proc, int(line.split()[1])


def run() -> None:
    from botruntime.models import ProcessedUpdate
    from sandbox.telegram import Limits, SandboxTelegram

    bots = pick(4, 2)
    connections = CONNECTIONS_PER_BOT * bots
    members = pick(1500, 50)
    per_segment = pick(6000, 200)
    warmup = pick(1000, 0)  # quick mode only checks that it all works
    rounds = pick(3, 1)
    redeliver = pick(500, 20)
    header("runtime_updates: webhook -> dedupe -> tenant -> leaderboard count vs a bare PTB bot")
    platform_ready()
    tg = SandboxTelegram(limits=Limits())
    api_base = tg.start()
    server_core, driver_core = cores()
    work = Path(tempfile.mkdtemp(prefix="bench-rt-"))
    runtime: RunBots | None = None
    bare: Any = None
    backends_moved = {"any": False}
    log = tempfile.TemporaryFile()
    try:
        scene = Scene(tg, bots, members)
        say(
            f"  {bots} communities, one bot each, administrator of one bound supergroup of "
            f"{members} members; sandbox Telegram with its default flood limits"
        )
        say(f"  producing {warmup + rounds * per_segment} group messages on the sandbox ...")
        warm_items = scene.messages(warmup, work / "warmup.jsonl")
        segments = []
        for r in range(rounds):
            path = work / f"round{r}.jsonl"
            segments.append((path, scene.messages(per_segment, path)))
        port = free_port()
        bot_args = [a for b in scene.bots for a in ("--bot", str(b["id"]))]
        webhook = ["--webhook", f"http://127.0.0.1:{port}", "--listen", "127.0.0.1"]
        runtime = RunBots(
            [*webhook, "--port", str(port), *bot_args],
            api_base=api_base,
            log=log,
            core=server_core,
        )
        runtime.start()
        bare, bare_port = _start_bare(scene.bots, api_base, server_core)
        runtime_base = f"http://127.0.0.1:{port}"
        bare_base = f"http://127.0.0.1:{bare_port}"
        where = "unpinned (no taskset)" if server_core is None else f"pinned to CPU {server_core}"
        say(
            f"  runtime: manage.py runbots --webhook (one process, {where}; durable jobs on); "
            f"bare: its own process, {where}"
        )
        say(
            "  driver: another process"
            + ("" if driver_core is None else f" on CPU {driver_core}")
            + f", {connections} keep-alive connections ({CONNECTIONS_PER_BOT} per bot, Telegram's "
            f"default); {rounds} rounds x {per_segment} updates "
            f"per path (after {warmup} warm-up), interleaved"
        )

        runtime_sent = 0
        bare_handled = 0
        # CPU spent per update in the measured rounds, beside the rates: the runtime's
        # process and its database backends, the bare bot's process.
        cpu = {
            "runtime": CpuMeter(lambda: _cpu_s(runtime.pid)),
            "backends": CpuMeter(_backends_cpu_s),
            "bare": CpuMeter(lambda: _cpu_s(bare.pid)),
        }
        measured = {"runtime": 0, "bare": 0}

        def runtime_segment(
            path: Path, items: list[list[str]], *, meter: bool = True
        ) -> dict[str, Any]:
            nonlocal runtime_sent
            runtime_sent += len(items)
            scene.count_for_runtime(items)
            backends_moved["any"] |= _backends_off_core(server_core, driver_core)
            if meter:
                cpu["runtime"].start()
                cpu["backends"].start()
            result = _segment(
                runtime_base, path, runtime_sent, scene.counted, driver_core, connections
            )
            if meter:
                cpu["runtime"].stop()
                cpu["backends"].stop()
                measured["runtime"] += len(items)
            return result

        def bare_segment(
            path: Path, items: list[list[str]], *, meter: bool = True
        ) -> dict[str, Any]:
            nonlocal bare_handled
            bare_handled += len(items)
            if meter:
                cpu["bare"].start()
            result = _segment(
                bare_base,
                path,
                bare_handled,
                lambda: _bare_count(bare_base),
                driver_core,
                connections,
            )
            if meter:
                cpu["bare"].stop()
                measured["bare"] += len(items)
            return result

        if warm_items:
            runtime_segment(work / "warmup.jsonl", warm_items, meter=False)
            bare_segment(work / "warmup.jsonl", warm_items, meter=False)
        results: dict[str, list[dict[str, Any]]] = {"bare": [], "runtime": []}
        for r, (path, items) in enumerate(segments, start=1):
            # The bare bot does not deduplicate: it takes the same updates again.
            results["runtime"].append(runtime_segment(path, items))
            results["bare"].append(bare_segment(path, items))
            say(f"  ... round {r}/{rounds} done")

        # Telegram redelivers what it did not see acknowledged: the runtime must drop it.
        again = work / "again.jsonl"
        sample = segments[0][1][:redeliver]
        again.write_text("".join(json.dumps(item) + "\n" for item in sample), encoding="utf-8")
        redelivered = _segment(
            runtime_base, again, runtime_sent, scene.counted, driver_core, connections
        )
        per_update = {
            name: meter.total * 1000 / measured["bare" if name == "bare" else "runtime"]
            for name, meter in cpu.items()
            if meter.known
        }
        time.sleep(0.3 if quick() else 1.0)  # anything queued by mistake is counted by now
        found = scene.rows()
        recorded = ProcessedUpdate.objects.filter(bot_id__in=[b["id"] for b in scene.bots]).count()
    finally:
        if bare is not None:
            bare.stdin.close()
            try:
                bare.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bare.kill()
        if runtime is not None:
            runtime.stop()
        tg.stop()
        shutil.rmtree(work, ignore_errors=True)

    errors = log_errors(log)
    log.close()
    labels = {
        "bare": "bare PTB bot (handler does nothing)",
        "runtime": "runtime (dedupe, tenant, count)",
    }
    rates: dict[str, float] = {}
    bad_status: Counter[str] = Counter()
    say(f"  {'path':<38} {'updates/s (median)':>18} {'ack p50 ms':>10} {'ack p99 ms':>10}")
    for name in ("bare", "runtime"):
        mine = results[name]
        rates[name] = median([r["count"] / (r["done"] - r["first"]) for r in mine])
        latencies = [x for r in mine for x in r["latencies_ms"]]
        for r in mine:
            for status, n in r["statuses"].items():
                if status != "200":
                    bad_status[f"{name} HTTP {status}"] += n
        say(
            f"  {labels[name]:<38} {rates[name]:>18.0f} {percentile(latencies, 50):>10.2f} "
            f"{percentile(latencies, 99):>10.2f}"
        )
    for status, n in redelivered["statuses"].items():
        if status != "200":
            bad_status[f"redelivery HTTP {status}"] += n
    ratio = rates["runtime"] / rates["bare"]
    say(f"  runtime / bare: {ratio:.2f}")
    if per_update:
        say(
            "  CPU ms per update in the measured rounds: "
            + ", ".join(
                f"{label} {per_update[name]:.3f}"
                for name, label in (
                    ("runtime", "runtime process"),
                    ("backends", "its PostgreSQL backends"),
                    ("bare", "bare process"),
                )
                if name in per_update
            )
        )
    if backends_moved["any"]:
        say(
            f"  the runtime's PostgreSQL backends ran on CPU {driver_core} with the driver, off "
            "the runtime's core: in production the database is another machine"
        )
    else:
        say("  the runtime's PostgreSQL backends were not pinned (remote server or no taskset)")
    missing = sum(max(n - found.get(key, 0), 0) for key, n in scene.expected.items())
    double = sum(max(n - scene.expected.get(key, 0), 0) for key, n in found.items())
    say(
        f"  exactly once: {runtime_sent} updates sent to the runtime, then {len(sample)} of them "
        f"again; dedupe recorded {recorded}; leaderboards counted {sum(found.values())} "
        f"over {len(found)} (group, user) rows: missing {missing}, counted twice {double}"
    )
    if errors:
        say(f"  RUNTIME ERRORS logged: {len(errors)}; first: {errors[0]}")
    if bad_status:
        say(f"  NON-200 ANSWERS: {dict(bad_status)}")
    goal(
        f"runtime >= {GOAL_UPDATES_PER_S:.0f} updates/s on one core ({rates['runtime']:.0f})",
        rates["runtime"] >= GOAL_UPDATES_PER_S,
    )
    goal(f"runtime / bare >= {GOAL_RATIO} ({ratio:.2f})", ratio >= GOAL_RATIO)
    if missing or double or recorded != runtime_sent or bad_status:
        raise RuntimeError("updates were lost, counted twice or refused (see above)")
    if quick():
        say("  (quick mode: figures from tiny N, not comparable)")


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "bare":
        asyncio.run(_bare(json.loads(sys.stdin.readline())))
    elif role == "drive":
        json.dump(asyncio.run(_drive(json.load(sys.stdin))), sys.stdout)
    else:
        sys.exit("usage: python -m bench.runtime_updates bare|drive (a plan on stdin)")
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
