"""The local backend: each isolated bot is a supervised ``runbots --bot ID`` process on
this machine; a pooled bot has no process of its own (the shared runtime hosts it).

- **Start.** The child (``runbots --bot ID --serve updates,dispatch``: the bot's updates
  and notifications; durable jobs are the jobs runtime's) runs from the project's root
  with this process's environment (DATABASE_URL, TELEGRAM_API_BASE, ...). Its token is
  not on its command line nor in a file: like every runtime it reads it, encrypted, from
  the database. A warm spare (``provisioner.spare``, Django already started) is adopted
  when there is one, so a new bot does not wait for Python and Django to start;
  otherwise a fresh process.
- **State.** ``<state_dir>/<tenant>/<bot_id>/config.json``: the bot's configuration and
  its digest (no secret); ``bot.log`` beside it: the child's output, size-capped.
- **Idempotent.** ``apply`` with the digest already applied and the child alive (or
  waiting to restart) changes nothing (``writes=0``); a new digest rewrites the config
  and restarts the child.
- **Supervision.** One thread per backend starts children (the kernel stops a child
  when the thread that started it ends: PR_SET_PDEATHSIG) and restarts those that exit,
  after a backoff doubling from ``Backoff.initial`` to ``Backoff.maximum``. A child
  that serves no bot (Telegram refused its token) is killed and counts as a crash.
- **Status from the process.** deploying until runbots prints that it hosts the bot,
  then running; failed after ``crash_limit`` exits within ``crash_window`` seconds
  (the reason: the exit code and the last line it printed), while restarts go on at the
  backoff's maximum pace (running again once one serves); paused after ``pause``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from provisioner.processes import Backoff, Child, RotatingLog
from provisioner.spec import BotSpec, Placement, Rollout, Status

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE, LOG_FILE, SPARE_LOG = "config.json", "bot.log", "spare.log"
TICK = 0.05  # seconds between the supervisor's looks at its children


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class _Bot:
    """What the backend knows of one bot: the desired state and its child, if any."""

    tenant: str
    bot_id: int
    directory: Path
    sha: str = ""
    placement: Placement = Placement.ISOLATED
    paused: bool = False
    child: Child | None = None
    log: RotatingLog | None = None
    next_start: float = 0.0  # monotonic time the next (re)start may happen
    failures: int = 0  # consecutive exits, for the backoff
    exits: deque[float] = field(default_factory=deque)  # recent exits, for the crash loop
    crash_loop: bool = False
    reason: str = ""  # why it last exited (or is not served)
    restarting: bool = False  # apply/pause is stopping the old child: start nothing yet

    def status(self) -> Rollout:
        if self.placement is Placement.POOLED:
            return Rollout(Status.RUNNING, "hosted by the shared runtime")
        if self.paused:
            return Rollout(Status.PAUSED)
        if self.child is not None and self.child.ready.is_set() and not self.child.failure:
            return Rollout(Status.RUNNING)
        if self.crash_loop:
            return Rollout(Status.FAILED, self.reason)
        return Rollout(Status.DEPLOYING, self.reason)


class LocalBackend:
    """Runs bots as supervised processes on this machine (see the module's doc)."""

    name = "local"

    def __init__(
        self,
        state_dir: Path,
        *,
        python: str = sys.executable,
        manage_py: Path = ROOT / "manage.py",
        env: dict[str, str] | None = None,
        backoff: Backoff | None = None,
        crash_limit: int = 5,
        crash_window: float = 60.0,
        stop_timeout: float = 10.0,
        log_max_bytes: int = 5 * 1024 * 1024,
        log_backups: int = 2,
        spare: bool = True,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.python = python
        self.manage_py = Path(manage_py)
        self.env = dict(env or {})
        self.backoff = backoff or Backoff()
        self.crash_limit, self.crash_window = crash_limit, crash_window
        self.stop_timeout = stop_timeout
        self.log_max_bytes, self.log_backups = log_max_bytes, log_backups
        self.use_spare = spare
        self._bots: dict[tuple[str, int], _Bot] = {}
        self._spare: Child | None = None
        self._spare_failures = 0
        self._spare_next = 0.0
        self._lock = threading.Condition()
        self._closed = False
        self._supervisor = threading.Thread(
            target=self._supervise, name="provisioner-local", daemon=True
        )
        self._supervisor.start()
        atexit.register(self.shutdown)

    # ---- the Backend protocol --------------------------------------------------------
    def apply(self, spec: BotSpec) -> Rollout:
        sha = spec.config_sha256()
        with self._lock:
            self._check_open()
            bot = self._bot(spec.tenant, spec.bot_id, create=True)
            assert bot is not None, "created"
            writes = 0
            changed = bot.sha != sha
            if changed:
                self._write_config(bot, spec, sha)
                bot.sha = sha
                writes += 1
            bot.placement = spec.placement
            old = bot.child if (changed or spec.placement is Placement.POOLED) else None
            was_paused = bot.paused
            bot.paused = False
            if spec.placement is Placement.POOLED:
                bot.child = None  # the shared runtime hosts it: no process of its own
                writes += old is not None
            elif old is not None or (was_paused and bot.child is None):
                bot.child = None
                bot.restarting = old is not None
                self._fresh_start(bot)
                writes += 1
            elif changed:  # first apply (or one after a restart of this process)
                self._fresh_start(bot)
                writes += 1
        if old is not None:
            self._stop(bot, old, why="reconfigured")
        rollout = self.status(tenant=spec.tenant, bot_id=spec.bot_id)
        logger.info(
            "provisioner.local.applied",
            extra={"tenant": spec.tenant, "bot_id": spec.bot_id, "writes": writes},
        )
        return Rollout(rollout.status, rollout.reason, writes)

    def pause(self, *, tenant: str, bot_id: int) -> Rollout:
        with self._lock:
            self._check_open()
            bot = self._bot(tenant, bot_id, create=True)
            assert bot is not None, "created"
            writes = 0 if bot.paused else 1
            bot.paused = True
            old, bot.child = bot.child, None
            bot.restarting = old is not None
        if old is not None:
            self._stop(bot, old, why="paused")
        return Rollout(Status.PAUSED, writes=writes)

    def remove(self, *, tenant: str, bot_id: int) -> Rollout:
        with self._lock:
            self._check_open()
            bot = self._bots.pop((tenant, bot_id), None)
            directory = self._directory(tenant, bot_id)
        writes = 0
        if bot is not None and bot.child is not None:
            bot.child.stop(self.stop_timeout)
            writes += 1
        if directory.exists():
            shutil.rmtree(directory)
            writes += 1
            try:
                directory.parent.rmdir()  # the tenant's folder, once its last bot is gone
            except OSError:
                pass
        return Rollout(Status.PENDING, "removed", writes)

    def status(self, *, tenant: str, bot_id: int) -> Rollout:
        with self._lock:
            bot = self._bots.get((tenant, bot_id))
            if bot is None:
                return Rollout(Status.PENDING, "not deployed")
            return bot.status()

    # ---- introspection (operators, tests) --------------------------------------------
    def pid(self, *, tenant: str, bot_id: int) -> int | None:
        """The process of a bot, if it has one now."""
        with self._lock:
            bot = self._bots.get((tenant, bot_id))
            child = bot.child if bot is not None else None
            return child.pid if child is not None and child.exit_code() is None else None

    def spare_warm(self) -> bool:
        """Whether a warm spare waits for the next bot to start."""
        with self._lock:
            return self._spare is not None and self._spare.warm.is_set()

    def log_path(self, *, tenant: str, bot_id: int) -> Path:
        return self._directory(tenant, bot_id) / LOG_FILE

    def wait(self, *, tenant: str, bot_id: int, status: Status, timeout: float = 30.0) -> Rollout:
        """The bot's rollout once it has ``status``; TimeoutError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            rollout = self.status(tenant=tenant, bot_id=bot_id)
            if rollout.status is status:
                return rollout
            if time.monotonic() > deadline:
                raise TimeoutError(f"bot {bot_id} is {rollout.status} ({rollout.reason})")
            time.sleep(TICK)

    def shutdown(self) -> None:
        """Stop every child (and the spare) and the supervisor; the backend is done."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            children = [b.child for b in self._bots.values() if b.child is not None]
            if self._spare is not None:
                children.append(self._spare)
            for bot in self._bots.values():
                bot.child = None
            self._spare = None
            self._lock.notify_all()
        for child in children:
            child.process.terminate()  # all at once, then wait for each
        for child in children:
            child.stop(self.stop_timeout)
        if threading.current_thread() is not self._supervisor:
            self._supervisor.join(timeout=5)

    # ---- internals -------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the local backend was shut down")

    def _directory(self, tenant: str, bot_id: int) -> Path:
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise ValueError(f"not a tenant slug: {tenant!r}")
        return self.state_dir / tenant / str(int(bot_id))

    def _bot(self, tenant: str, bot_id: int, *, create: bool) -> _Bot | None:
        key = (tenant, bot_id)
        if key not in self._bots and create:
            directory = self._directory(tenant, bot_id)
            bot = _Bot(tenant, bot_id, directory)
            bot.log = RotatingLog(
                directory / LOG_FILE, max_bytes=self.log_max_bytes, backups=self.log_backups
            )
            bot.sha = self._applied_sha(directory)  # what a previous process applied
            self._bots[key] = bot
        return self._bots.get(key)

    @staticmethod
    def _applied_sha(directory: Path) -> str:
        try:
            return str(json.loads((directory / CONFIG_FILE).read_text())["config_sha256"])
        except (OSError, ValueError, KeyError):
            return ""

    @staticmethod
    def _write_config(bot: _Bot, spec: BotSpec, sha: str) -> None:
        bot.directory.mkdir(parents=True, exist_ok=True)
        config = {
            **spec.config(),
            "placement": str(spec.placement),
            "webhook_url": spec.webhook_url,
            "config_sha256": sha,
        }
        temporary = bot.directory / f".{CONFIG_FILE}.tmp"
        temporary.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False))
        os.replace(temporary, bot.directory / CONFIG_FILE)  # readers never see half a file

    def _fresh_start(self, bot: _Bot) -> None:
        """Start as soon as the supervisor looks, with the crash history forgotten."""
        bot.failures, bot.crash_loop, bot.reason = 0, False, ""
        bot.exits.clear()
        bot.next_start = time.monotonic()
        self._lock.notify_all()

    def _stop(self, bot: _Bot, child: Child, *, why: str) -> None:
        """Stop ``child`` (outside the lock: it can take ``stop_timeout``), then let the
        supervisor start the next one: never two processes polling for one bot."""
        code = child.stop(self.stop_timeout)
        if bot.log is not None:
            bot.log.write(f"--- provisioner {_now()}: stopped pid {child.pid} ({why}), exit {code}")
        with self._lock:
            bot.restarting = False
            self._lock.notify_all()

    def _child_args(self, bot: _Bot) -> list[str]:
        return ["--bot", str(bot.bot_id), "--serve", "updates,dispatch"]

    def _child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env.pop("BOT_SHARD", None)  # a shard is for pooled runtimes: --bot refuses it
        return env

    # ---- the supervisor thread -------------------------------------------------------
    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                now = time.monotonic()
                for bot in list(self._bots.values()):
                    self._look_after(bot, now)
                if self.use_spare:
                    self._keep_spare(now)
                self._lock.wait(TICK)

    def _look_after(self, bot: _Bot, now: float) -> None:
        child = bot.child
        if child is not None:
            code = child.exit_code()
            if code is not None:
                self._exited(bot, child, code, now)
            elif child.failure:
                child.kill()  # serves nothing: reaped as a crash on the next look
            elif child.ready_at is not None and now - child.ready_at > self.backoff.reset_after:
                bot.failures = 0
                bot.exits.clear()
                bot.crash_loop = False
            return
        if bot.placement is Placement.ISOLATED and not bot.paused and not bot.restarting:
            if now >= bot.next_start:
                self._start(bot)

    def _exited(self, bot: _Bot, child: Child, code: int, now: float) -> None:
        bot.child = None
        last = child.failure or child.last_line or "(no output)"
        bot.reason = f"exit code {code}: {last}"[:500]
        bot.failures += 1
        bot.exits.append(now)
        while bot.exits and now - bot.exits[0] > self.crash_window:
            bot.exits.popleft()
        if len(bot.exits) >= self.crash_limit:
            bot.crash_loop = True
            bot.reason = (
                f"crash loop: exited {len(bot.exits)} times within "
                f"{self.crash_window:g} s; last {bot.reason}"
            )
        delay = self.backoff.delay(bot.failures)
        bot.next_start = now + delay
        if bot.log is not None:
            bot.log.write(
                f"--- provisioner {_now()}: pid {child.pid} exited with {code}; "
                f"restart in {delay:g} s"
            )
        logger.warning(
            "provisioner.local.exited",
            extra={
                "tenant": bot.tenant,
                "bot_id": bot.bot_id,
                "code": code,
                "restart_in": delay,
                "crash_loop": bot.crash_loop,
            },
        )

    def _start(self, bot: _Bot) -> None:
        assert bot.log is not None, "made with the bot"
        args = self._child_args(bot)
        spare, self._spare = self._spare, None
        how = "spare"
        if spare is None or not spare.adopt(args, bot.log):
            if spare is not None:
                spare.kill()  # dead already: reaped with its pipe
            how = "new process"
            bot.child = Child(
                [self.python, str(self.manage_py), "runbots", *args],
                cwd=self.manage_py.parent,
                env=self._child_env(),
                sink=bot.log,
            )
        else:
            bot.child = spare
        bot.log.write(
            f"--- provisioner {_now()}: runbots {' '.join(args)} as pid {bot.child.pid} ({how})"
        )
        logger.info(
            "provisioner.local.started",
            extra={"tenant": bot.tenant, "bot_id": bot.bot_id, "pid": bot.child.pid, "how": how},
        )

    def _keep_spare(self, now: float) -> None:
        spare = self._spare
        if spare is not None:
            if spare.exit_code() is None:
                if spare.warm.is_set():
                    self._spare_failures = 0
                return
            self._spare = None  # it died warming up: try again later
            self._spare_failures += 1
            self._spare_next = now + self.backoff.delay(self._spare_failures)
            return
        if now < self._spare_next:
            return
        if any(b.child is not None and not b.child.ready.is_set() for b in self._bots.values()):
            return  # a bot is starting: the next spare waits rather than slow it down
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = RotatingLog(
            self.state_dir / SPARE_LOG, max_bytes=self.log_max_bytes, backups=self.log_backups
        )
        self._spare = Child(
            [self.python, "-m", "provisioner.spare"],
            cwd=self.manage_py.parent,
            env=self._child_env(),
            sink=log,
        )


_backend: LocalBackend | None = None
_backend_lock = threading.Lock()


def local_backend() -> LocalBackend:
    """This process's local backend (one supervisor for the whole process), its state
    under settings.PROVISIONER_LOCAL_DIR. Its children follow this process's settings
    where a command changed them at run time (``make run`` points the platform at the
    sandbox Telegram)."""
    global _backend
    with _backend_lock:
        if _backend is None or _backend._closed:
            from django.conf import settings

            state_dir = Path(settings.PROVISIONER_LOCAL_DIR)
            if not state_dir.is_absolute():
                state_dir = ROOT / state_dir
            env = {
                "TELEGRAM_API_BASE": settings.TELEGRAM_API_BASE,
                "MINI_APP_URL": settings.MINI_APP_URL,
            }
            _backend = LocalBackend(state_dir, env=env, spare=settings.PROVISIONER_LOCAL_SPARE)
        return _backend


def local_backend_stop() -> None:
    """Stop this process's local backend and its bots, if it was started."""
    with _backend_lock:
        backend = _backend
    if backend is not None:
        backend.shutdown()
