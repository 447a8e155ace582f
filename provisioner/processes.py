"""Child processes the local backend supervises: how one is started (dying with its
parent), how its output reaches a size-capped log, how it says it is serving, and how
long to wait before starting it again after it died."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# runbots prints this once its bots are started; the count says whether the bot is served
# (an isolated child hosts exactly one, so 0 means Telegram refused it or it is unknown).
HOSTING = re.compile(r"^bot runtime: hosting (\d+) bot\(s\)")
NOT_SERVING = "bot runtime: not serving"
SPARE_READY = "spare: ready"  # provisioner.spare is warm and waits for its command
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Backoff:
    """Seconds to wait before the n-th consecutive restart: ``initial`` doubling up to
    ``maximum``. A child that stayed up ``reset_after`` seconds starts the count again."""

    initial: float = 0.5
    factor: float = 2.0
    maximum: float = 30.0
    reset_after: float = 60.0

    def delay(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return min(self.initial * self.factor ** (failures - 1), self.maximum)


class RotatingLog:
    """Lines appended to ``path``; past ``max_bytes`` the file becomes ``path.1`` (the
    older ``path.1`` becomes ``path.2``, ...), ``backups`` of them kept. Thread-safe."""

    def __init__(self, path: Path, *, max_bytes: int = 5 * 1024 * 1024, backups: int = 2):
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._lock = threading.Lock()

    def write(self, line: str) -> None:
        data = line if line.endswith("\n") else line + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):
                if self.path.stat().st_size + len(data) > self.max_bytes:
                    self._rotate()
            with self.path.open("a", encoding="utf-8") as out:
                out.write(data)

    def _rotate(self) -> None:
        oldest = self.path.with_name(f"{self.path.name}.{self.backups}")
        oldest.unlink(missing_ok=True)
        for n in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Run in the child between fork and exec: the kernel sends it SIGTERM when the
    thread that started it ends (Linux; the supervisor thread lives as long as the
    backend), so no bot outlives a platform process killed with -9."""

    def arrange() -> None:
        if sys.platform.startswith("linux"):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the line above ran
            os._exit(1)

    return arrange


class Child:
    """One supervised process: its output (stdout and stderr) goes line by line to
    ``sink``, which may change while it runs (a warm spare adopted by a bot); it reports
    ``ready`` on runbots' hosting line, and ``failure`` when runbots serves no bot."""

    def __init__(
        self, args: list[str], *, cwd: Path, env: dict[str, str], sink: RotatingLog
    ) -> None:
        self.args = args
        self.sink = sink
        self.ready = threading.Event()  # runbots hosts its bot
        self.warm = threading.Event()  # a spare is warm (its runbots not told yet)
        self.adopted = False
        self.ready_at: float | None = None
        self.failure = ""  # why runbots serves nothing ("" while it may)
        self.last_line = ""
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
            args,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            preexec_fn=_die_with_parent(os.getpid()),  # prctl only: see its doc
        )
        self._reader = threading.Thread(
            target=self._read, name=f"child-log:{self.process.pid}", daemon=True
        )
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None, "started with stdout=PIPE"
        for line in iter(stream.readline, ""):
            self.sink.write(line)
            text = line.strip()
            if text:
                self.last_line = text
            self._notice(text)

    def _notice(self, text: str) -> None:
        hosting = HOSTING.match(text)
        if hosting and int(hosting.group(1)) > 0:
            self.ready_at = time.monotonic()
            self.ready.set()
        elif hosting:
            self.failure = self.failure or "runbots hosts no bot (unknown, inactive or refused)"
        elif text.startswith(NOT_SERVING):
            self.failure = text
        elif text == SPARE_READY and not self.adopted:
            self.warm.set()

    def adopt(self, args: list[str], sink: RotatingLog) -> bool:
        """A spare becomes ``runbots ARGS``: from now on its lines go to ``sink``. One
        still warming reads them once warm. False if it cannot (it died)."""
        if self.adopted or self.process.poll() is not None or self.process.stdin is None:
            return False
        self.adopted = True
        self.sink = sink
        self.started_at = time.monotonic()
        try:
            self.process.stdin.write(" ".join(args) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def exit_code(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (runbots stops its bots cleanly), SIGKILL after ``timeout``; the exit
        code. The log reader finishes with the process's last lines."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.process.wait()
        self._reader.join(timeout=2)
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        return self.process.returncode
