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


@pytest.fixture(scope="module")
def runs() -> dict[str, subprocess.Popen[str]]:
    # The server the suite uses (the embedded one included): the children neither start an
    # embedded server each nor race to start one; they create their scratch databases on it.
    env = {**os.environ, "DATABASE_URL": connection_url(database="postgres"), "BENCH_QUICK": "1"}
    # One database migrated once, which each benchmark's scratch database copies: a dozen
    # benchmarks migrating their own at once took half of this module's time.
    template = f"bragabot_bench_template_{os.getpid()}"
    subprocess.run(
        [sys.executable, "-m", "bench", "--prepare-template", template],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    env[TEMPLATE_ENV] = template
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
    admin = psycopg2.connect(connection_url(database="postgres"))
    try:
        admin.autocommit = True  # DROP DATABASE runs outside a transaction
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
    finally:
        admin.close()


@pytest.mark.parametrize("name", list(EXPECTED))
def test_benchmark_runs_in_quick_mode(runs, name):
    if name == "wallet_transfer" and baseline_dir("pgledger") is None:
        # Third-party code kept beside the checkout, never in it: a clone placed elsewhere
        # has no peer to run (not a service the machine lacks).
        pytest.skip("no ../shared/baselines/pgledger beside the checkout; set BRAGABOT_BASELINES")
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


def test_wallet_transfer_without_the_wallet_app_is_an_error(monkeypatch):
    """Measuring the peers alone must be asked for: a run that skipped ``ours`` silently
    would read as a benchmark of the wallet."""
    from bench import wallet_transfer

    for name in ("wallet", "wallet.services"):  # `import wallet.services` now fails
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delenv("BENCH_WALLET_OURS", raising=False)
    with pytest.raises(RuntimeError, match=r"wallet app is not installed.*BENCH_WALLET_OURS=skip"):
        wallet_transfer.run()
