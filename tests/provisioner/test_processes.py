"""The pieces of supervision on their own: the backoff's pace, the size-capped log,
what a child's output says about it, and children dying with their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from provisioner.processes import Backoff, Child, RotatingLog
from tests.helpers import until

ROOT = Path(__file__).resolve().parents[2]


def test_the_backoff_doubles_up_to_its_maximum():
    backoff = Backoff(initial=0.5, factor=2.0, maximum=30.0)
    assert [backoff.delay(n) for n in range(9)] == [0, 0.5, 1, 2, 4, 8, 16, 30, 30]


def test_the_log_rotates_past_its_size_and_keeps_its_backups_only(tmp_path):
    log = RotatingLog(tmp_path / "bot.log", max_bytes=100, backups=2)
    for n in range(40):
        log.write(f"line {n:03d} " + "x" * 18)  # 28 bytes with the newline
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["bot.log", "bot.log.1", "bot.log.2"]
    for path in tmp_path.iterdir():
        assert path.stat().st_size <= 100
    assert (tmp_path / "bot.log").read_text().splitlines()[-1].startswith("line 039")
    kept = "".join((tmp_path / n).read_text() for n in ("bot.log.2", "bot.log.1", "bot.log"))
    numbers = [int(line.split()[1]) for line in kept.splitlines()]
    assert numbers == list(range(numbers[0], 40))  # in order, the oldest dropped
    assert numbers[0] > 0


def _child(tmp_path: Path, code: str) -> Child:
    return Child(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ),
        sink=RotatingLog(tmp_path / "out.log"),
    )


def test_a_child_is_ready_when_runbots_hosts_its_bot_and_failed_when_it_hosts_none(tmp_path):
    serving = _child(
        tmp_path,
        "import time; print('bot runtime: hosting 1 bot(s) by long polling', flush=True); "
        "time.sleep(30)",
    )
    refused = _child(
        tmp_path,
        "import time; print('bot runtime: hosting 0 bot(s) by long polling'); "
        "print('bot runtime: not serving 42 (telegram_refused)', flush=True); time.sleep(30)",
    )
    try:
        assert serving.ready.wait(10) and not serving.failure
        until(lambda: refused.failure)
        assert refused.failure == "bot runtime: not serving 42 (telegram_refused)"
        assert not refused.ready.is_set()
    finally:
        assert serving.stop(timeout=5) == -signal.SIGTERM
        refused.stop(timeout=5)
    assert "hosting 1 bot(s)" in (tmp_path / "out.log").read_text()


def test_children_die_with_the_process_that_started_them(tmp_path):
    """A platform process killed with -9 runs no clean-up: the kernel stops its bots."""
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys, time; from pathlib import Path\n"
            "from provisioner.processes import Child, RotatingLog\n"
            f"c = Child(['sleep', '60'], cwd=Path('{tmp_path}'), env=dict(os.environ),"
            f" sink=RotatingLog(Path('{tmp_path}') / 'x.log'))\n"
            "print(c.pid, flush=True); time.sleep(60)\n",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        os.kill(pid, 0)  # running
        parent.kill()
        parent.wait()

        def gone() -> bool:
            stat = Path(f"/proc/{pid}/stat")
            return not stat.exists() or stat.read_text().split(") ", 1)[1].startswith("Z")

        until(gone, timeout=5)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
