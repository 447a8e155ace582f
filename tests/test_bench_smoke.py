"""The benchmarks still run: each one in quick mode (tiny N) as a subprocess must exit 0
and print its figures. Timings are not checked. They run side by side to keep this
under a minute."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from config.dbserver import connection_url

ROOT = Path(__file__).resolve().parents[1]

# Lines each benchmark must print (its figures and its goal or ratio).
EXPECTED = {
    "tenant_create": [
        "tables in a tenant schema:",
        "tenant_create ",
        "clone_schema",
        "migrate_schemas (new schema)",
        "goal: tenant_create median",
    ],
    "api_me": [
        "ours: GET /api/v1/me",
        "peer: TenantMainMiddleware",
        "info: bare Django view",
        "database connections of the server during the load",
        "req/s with 1 / 2 worker(s)",
        "goal: me / peer",
    ],
    "history_record": ["history.record ", "plain INSERT", "chains verified", "goal: 4 writer"],
    "migrate_schemas": [
        "standard (sequential)",
        "multiprocessing (parallel)",
        "sequential / parallel:",
    ],
    "runtime_updates": [
        "bare PTB bot",
        "runtime (dedupe, tenant, count)",
        "CPU ms per update in the measured rounds: runtime process",
        "missing 0, counted twice 0",
        "goal: runtime / bare",
    ],
    "bulk_send": [
        "SIGTERM at",
        "SIGKILL at",
        "sendMessage requests:",
        "sustained while sending",
        "goal: every recipient exactly once",
    ],
    "runtime_memory": ["per additional bot", "goal: (RSS"],
}


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.Popen[str]]:
    # The server the suite uses (the embedded one included): the children neither start an
    # embedded server each nor race to start one; they create their scratch databases on it.
    env = {**os.environ, "DATABASE_URL": connection_url(database="postgres"), "BENCH_QUICK": "1"}
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "bench", name, "--quick"],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: its children go with it
        )
        for name in EXPECTED
    }
    yield procs
    for proc in procs.values():
        # A benchmark still running (a subset of these tests was selected, or one failed)
        # is stopped with the runtimes and servers it started, not only itself.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_runs_in_quick_mode(runs, name):
    try:
        output, _ = runs[name].communicate(timeout=110)
    except subprocess.TimeoutExpired:
        runs[name].kill()
        output, _ = runs[name].communicate()
        pytest.fail(f"bench {name} did not finish:\n{output[-3000:]}")
    assert runs[name].returncode == 0, output[-3000:]
    for line in EXPECTED[name]:
        assert line in output, f"{name} printed no {line!r}:\n{output[-3000:]}"
    assert "[quick]" in output
