"""The benchmarks still run: each one in quick mode (tiny N) as a subprocess must exit 0
and print its figures. Timings are not checked. They run side by side to keep this
under a minute."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest

from bench.common import TEMPLATE_ENV, baseline_dir
from config.dbserver import connection_url

ROOT = Path(__file__).resolve().parents[1]

WALLET_PEERS = [
    "pgledger ",
    "raw SQL ",
    "both peers conserved money",
    "hot: pgledger / raw SQL",
    "info: pgledger_create_transfers",
]
WALLET_OURS = [
    "ours: transfer_post",
    "goal: spread: ours / pgledger",
    "goal: hot: ours / raw SQL",
    "goal: hold_settle",
]

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
    "wallet_transfer": WALLET_PEERS + WALLET_OURS,
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
    "xfeed_forwarding": [
        "communities seeded",
        "-- stream:",
        "disconnects forced at",
        "-- poll at 7 posts/h:",
        "forwards: should be",
        "post-to-forward delay (simulated s",
        "X API requests:",
        "cost per tenant",
        "goal: stream: every post forwarded",
        "floor for any poller forwarding every post within XFEED_POLL_MAX_SECONDS",
        "goal: poll at 7 posts/h: API calls per forwarded post",
        "goal: poll at 7 posts/h: no tenant above its cap",
    ],
    "raid_settlement": [
        "raid_settle, 50 participants:",
        "naive transfer_post per payout, 200 participants:",
        "raid_settle / naive, 200:",
        "CPU",
        "goal: raid_settle >= 2,000 payouts/s",
    ],
    "raid_validation": [
        "GET /2/tweets/:id/retweeted_by",
        "calls ",
        "CPU time of the pass in this process",
        "goal: validation calls / lower bound",
        "goal: validation CPU",
    ],
    "raids_fraud": [
        "fraud_scan:",
        "flags:",
        "second scan: 0 new flags",
        "goal: every seeded signal flagged",
        "goal: fraud_scan CPU",
    ],
    "runtime_shards": [
        "rendezvous (shard_of): moved",
        "naive bot_id % N: moved",
        "moved onto the new shard:",
        "per shard at 5: min",
        "side by side, moved / ideal:",
        "goal: rendezvous moved / ideal",
    ],
    "local_deploy": [
        "-- with the warm spare",
        "process there",
        "median first reply:",
        "-- info: without the spare",
        "baseline: a new POOLED bot",
        "goal: median first reply <= 3 s",
    ],
    "provisioner_desired": [
        "render alone",
        "ours (digest skip): first apply:",
        "ours (digest skip): second apply, no change",
        "naive (PATCH everything): second apply",
        "goal: first apply (render + apply",
        "goal: second apply with no change: 0 writes (measured 0) -> PASS",
    ],
}


def _template_prepare(env: dict[str, str]) -> str:
    """One database migrated once, which each benchmark's scratch database copies: a dozen
    benchmarks migrating their own at once took half of this test's time."""
    template = f"bragabot_bench_template_{os.getpid()}"
    subprocess.run(
        [sys.executable, "-m", "bench", "--prepare-template", template],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    return template


def _template_drop(template: str) -> None:
    admin = psycopg2.connect(connection_url(database="postgres"))
    try:
        admin.autocommit = True  # DROP DATABASE runs outside a transaction
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    finally:
        admin.close()


def _failure(name: str, proc: subprocess.Popen[str], deadline: float) -> str | None:
    """Why benchmark ``name`` failed, or None: it exited 0 by ``deadline`` (monotonic) and
    printed every line."""
    try:
        output, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        return f"did not finish:\n{output[-3000:]}"
    if proc.returncode != 0:
        return f"exited {proc.returncode}:\n{output[-3000:]}"
    missing = [line for line in EXPECTED[name] if line not in output]
    if missing or "[quick]" not in output:
        return f"printed no {missing or ['[quick]']}:\n{output[-3000:]}"
    return None


# One test, not one per benchmark: they run side by side, and `make test`'s workers
# (pytest-xdist) would otherwise each start the whole set.
@pytest.mark.timeout(240)
def test_every_benchmark_runs_in_quick_mode():
    names = list(EXPECTED)
    if baseline_dir("pgledger") is None:
        # Third-party code kept beside the checkout, never in it: a clone placed elsewhere
        # has no peer to run (not a service the machine lacks).
        names.remove("wallet_transfer")
    # The server the suite uses (the embedded one included): the children neither start an
    # embedded server each nor race to start one; they create their scratch databases on it.
    env = {**os.environ, "DATABASE_URL": connection_url(database="postgres"), "BENCH_QUICK": "1"}
    env[TEMPLATE_ENV] = _template_prepare(env)
    procs: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in names:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "bench", name, "--quick"],
                cwd=ROOT,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: its children go with it
            )
        deadline = time.monotonic() + 150
        failures = {name: _failure(name, proc, deadline) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            # A benchmark still running (this test failed) is stopped with the runtimes
            # and servers it started, not only itself.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        _template_drop(env[TEMPLATE_ENV])
    failed = {name: why for name, why in failures.items() if why}
    assert not failed, "\n\n".join(f"bench {name} {why}" for name, why in failed.items())
    if "wallet_transfer" not in names:
        pytest.skip(
            "every other benchmark ran; wallet_transfer needs ../shared/baselines/"
            "pgledger beside the checkout (or BRAGABOT_BASELINES)"
        )


def test_wallet_transfer_without_the_wallet_app_is_an_error(monkeypatch):
    """Measuring the peers alone must be asked for: a run that skipped ``ours`` silently
    would read as a benchmark of the wallet."""
    from bench import wallet_transfer

    for name in ("wallet", "wallet.services"):  # `import wallet.services` now fails
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delenv("BENCH_WALLET_OURS", raising=False)
    with pytest.raises(RuntimeError, match=r"wallet app is not installed.*BENCH_WALLET_OURS=skip"):
        wallet_transfer.run()
