"""`python -m bench [name ...] [--quick]`: run every benchmark, or the named ones.

One benchmark runs in this process; several run one after another, each in a child
process of its own (Django is configured once per process, and some benchmarks use
bench-only settings). Exit status is non-zero only when a benchmark failed with an
error, never for a missed goal.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time
import traceback

from bench import common

# Benchmarks run on scratch databases with the built-in development keys (config.checks);
# the processes they start inherit this.
os.environ.setdefault("BRAGABOT_ENV", "development")

BENCHMARKS = [
    "tenant_create",
    "api_me",
    "history_record",
    "wallet_transfer",
    "migrate_schemas",
    "runtime_updates",
    "bulk_send",
    "runtime_memory",
    "xfeed_forwarding",
    "raid_settlement",
    "raid_validation",
    "raids_fraud",
    "runtime_shards",
    "local_deploy",
    "provisioner_desired",
]


def run_one(name: str) -> int:
    module = importlib.import_module(f"bench.{name}")
    try:
        # The scratch database must exist before Django reads DATABASE_URL.
        with common.scratch_database(name):
            common.setup_django(getattr(module, "SETTINGS", "config.settings"))
            module.run()
    except Exception:
        traceback.print_exc()
        common.say(f"ERROR: benchmark {name} failed")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small N, for the smoke test")
    parser.add_argument(
        "--prepare-template",
        metavar="DATABASE",
        help=f"only create DATABASE ready for the benchmarks (migrated, the public tenant, "
        f"the tenant-schema template) and exit; ${common.TEMPLATE_ENV}=DATABASE makes "
        f"benchmarks start from a copy of it",
    )
    args = parser.parse_args(argv)
    if args.prepare_template:
        common.template_prepare(args.prepare_template)
        return 0
    if args.quick:
        os.environ["BENCH_QUICK"] = "1"
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    names = args.names or BENCHMARKS
    if len(names) == 1:
        return run_one(names[0])
    # Resolve the server once: with no DATABASE_URL the embedded PostgreSQL started here
    # stays up for every child instead of starting and stopping for each.
    os.environ["DATABASE_URL"] = common.server_url()
    failed = []
    started = time.perf_counter()
    for name in names:
        code = subprocess.call([sys.executable, "-m", "bench", name], cwd=common.ROOT)
        if code != 0:
            failed.append(name)
        common.say()
    elapsed = time.perf_counter() - started
    common.say(
        f"== {len(names)} benchmarks in {elapsed:.1f} s; "
        + (f"errors in: {', '.join(failed)}" if failed else "no errors")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
