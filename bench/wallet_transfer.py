"""Wallet transfers: ``wallet.services.transfer_post`` beside pgledger and a raw-SQL double
entry, on the same PostgreSQL in the same run, then one ``hold_settle`` into many payouts.

Transfers are posted by 8 concurrent workers, each a forked process with a connection of
its own: processes rather than threads, so that Python's GIL does not serialise our
service's client side (the peers spend almost nothing in Python, ours does: a thread pool
would measure the GIL, not the ledger). Every path runs the same way: same workers, same
driver (psycopg2), one transaction per transfer, amount 1, the same random pairs; a
worker posts one transfer before the common start (connection, plan and function caches
warm), then as many as it can until the deadline. Two account sets:

- spread: 1,000 accounts, random pairs (little contention);
- hot:    10 accounts, one of them in every transfer (every transfer waits for its lock).

Paths:
- ours:     ``transfer_post`` with a fresh idempotency key, kind "adjustment", exactly as
            a caller uses it (the service's history record and checks included);
- pgledger: ``pgledger_create_transfer(from, to, amount)`` in autocommit, loaded from the
            baselines beside the project (bench/ledger_peers.py);
- raw SQL:  lock both rows in id order, two UPDATEs, one INSERT, commit.

Rounds are interleaved (each round runs every path on both sets, the order of the paths
rotating), and the medians of the rounds are compared. Money is checked to be conserved
in both peers afterwards, and each peer's transfer count to match what was counted.

``BENCH_WALLET_OURS=skip`` measures the peers alone and says so; otherwise a missing
wallet app is an error.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from bench import ledger_peers as peers
from bench.common import (
    Stopwatch,
    goal,
    header,
    median,
    percentile,
    pick,
    platform_ready,
    quick,
    say,
)
from bench.forked import in_processes

WORKERS = 8
CURRENCY = "XTR"
GROUP_CHAT_ID = -1001000000001  # a group's accounts belong to its Telegram chat id
FUNDS = 10**12  # per account: never the limit, whatever the run's length
GOAL_VS_PGLEDGER = 1.0
GOAL_VS_RAW = 0.7
GOAL_PAYOUTS_PER_S = 2000.0
PATHS = ("ours", "pgledger", "raw")
LABELS = {"ours": "ours: transfer_post", "pgledger": "pgledger", "raw": "raw SQL"}
SCENARIOS = ("spread", "hot")
SKIP_ENV = "BENCH_WALLET_OURS"
# A transfer between two user accounts that is neither a deposit nor a payout.
TRANSFER_KIND = "adjustment"


@dataclass
class Ledgers:
    """What the forked workers inherit: the scratch database and each path's accounts per
    scenario (index 0 is the hot account of "hot")."""

    url: str
    accounts: dict[tuple[str, str], Sequence[Any]] = field(default_factory=dict)
    tenant: Any = None
    external: Any = None


LEDGERS: Ledgers | None = None


def _ledgers() -> Ledgers:
    assert LEDGERS is not None, "set before the workers fork"
    return LEDGERS


def _slices(items: Sequence[Any], parts: int) -> list[Sequence[Any]]:
    return [items[n::parts] for n in range(parts) if items[n::parts]]


# --- Our wallet -------------------------------------------------------------------------


def ours_skipped() -> bool:
    return os.environ.get(SKIP_ENV, "").strip().lower() == "skip"


def ours_check_installed() -> None:
    """The wallet app must be there: a run that silently measured only the peers would
    look like a benchmark of the wallet."""
    try:
        import wallet.services  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name not in {"wallet", "wallet.services"}:
            raise
        raise RuntimeError(
            f"the wallet app is not installed (no module {exc.name!r}); set {SKIP_ENV}=skip "
            "to measure pgledger and raw SQL alone"
        ) from exc


def _fund(account: Any, amount: int, idempotency_key: str) -> None:
    """A deposit of ``amount`` into ``account`` from the tenant's external account."""
    from wallet.services import transfer_post

    ledgers = _ledgers()
    transfer_post(
        tenant=ledgers.tenant,
        debit=ledgers.external,
        credit=account,
        amount=amount,
        kind="deposit",
        idempotency_key=idempotency_key,
    )


def _ours_accounts(owner_ids: Sequence[int], fund: int) -> list[Any]:
    """User accounts (created together, as a raid's payees are, then funded from the
    tenant's external account)."""
    from wallet.services import accounts_get_or_create

    ledgers = _ledgers()
    created = accounts_get_or_create(
        tenant=ledgers.tenant,
        owner_kind="user",
        owner_ids=list(owner_ids),
        currency=CURRENCY,
        kind="available",
    )
    accounts = []
    for owner_id in owner_ids:
        account = created[owner_id]
        if fund:
            _fund(account, fund, f"bench-fund-{owner_id}")
        accounts.append(account)
    return accounts


def ours_accounts(first_owner_id: int, count: int, fund: int) -> list[Any]:
    """``count`` accounts, created by the workers in parallel, in owner-id order."""
    owner_ids = list(range(first_owner_id, first_owner_id + count))
    parts = _slices(owner_ids, WORKERS)
    made = in_processes(_ours_accounts, [(part, fund) for part in parts])
    by_owner = dict(zip(itertools.chain(*parts), itertools.chain(*made), strict=True))
    return [by_owner[owner_id] for owner_id in owner_ids]


def ours_setup(sizes: dict[str, int]) -> None:
    from tenancy.services import tenant_create
    from wallet.services import account_get_or_create

    ledgers = _ledgers()
    with Stopwatch() as sw:
        platform_ready()
        ledgers.tenant = tenant_create(slug="bench-wallet", name="Bench", domain="wallet.bench")
        ledgers.external = account_get_or_create(
            tenant=ledgers.tenant,
            owner_kind="tenant",
            owner_id=ledgers.tenant.pk,
            currency=CURRENCY,
            kind="external",
        )
        first = 1
        for scenario in SCENARIOS:
            ledgers.accounts[(scenario, "ours")] = ours_accounts(first, sizes[scenario], FUNDS)
            first += sizes[scenario]
    say(f"  setup: ours: tenant and {sum(sizes.values())} funded accounts in {sw.seconds:.1f} s")


# --- The transfer rounds --------------------------------------------------------------


def _poster(path: str, scenario: str, key_prefix: str) -> tuple[Callable[[int, int], None], Any]:
    """(post(debit index, credit index), what to close afterwards) for one worker."""
    ledgers = _ledgers()
    accounts = ledgers.accounts[(scenario, path)]
    if path == "ours":
        from wallet.services import transfer_post

        keys = itertools.count(1)
        tenant = ledgers.tenant

        def post_ours(debit: int, credit: int) -> None:
            transfer_post(
                tenant=tenant,
                debit=accounts[debit],
                credit=accounts[credit],
                amount=1,
                kind=TRANSFER_KIND,
                idempotency_key=f"{key_prefix}-{next(keys)}",
            )

        return post_ours, connection
    if path == "pgledger":
        conn = peers.pgledger_connect(ledgers.url)
        return lambda d, c: peers.pgledger_transfer(conn, accounts[d], accounts[c], 1), conn
    conn = peers.raw_connect(ledgers.url)
    return lambda d, c: peers.raw_transfer(conn, accounts[d], accounts[c], 1), conn


def _pair(scenario: str, count: int, rng: random.Random) -> tuple[int, int]:
    if scenario == "spread":
        debit, credit = rng.sample(range(count), 2)
        return debit, credit
    other = rng.randrange(1, count)  # index 0 is the hot account, in every transfer
    return (0, other) if rng.random() < 0.5 else (other, 0)


def _transfer_worker(
    path: str, scenario: str, seed: str, start_at: float, seconds: float
) -> tuple[int, list[float], float, float]:
    """Post transfers from the common start to the deadline; (count, latencies in ms,
    when the last one ended, CPU seconds this process spent meanwhile). ``seed`` names
    the round and the worker, not the path: every path's worker n draws the same pairs in
    the same round."""
    post, conn = _poster(path, scenario, f"bench-{seed}-{path}")
    count = len(_ledgers().accounts[(scenario, path)])
    rng = random.Random(seed)
    try:
        post(*_pair(scenario, count, rng))  # warm-up, before the clock starts
        while time.perf_counter() < start_at:
            time.sleep(0.0005)
        deadline = start_at + seconds
        latencies: list[float] = []
        ended = start_at
        cpu = time.process_time()
        while (began := time.perf_counter()) < deadline:
            post(*_pair(scenario, count, rng))
            ended = time.perf_counter()
            latencies.append((ended - began) * 1000.0)
        cpu = time.process_time() - cpu
    finally:
        conn.close()
    return len(latencies), latencies, ended, cpu


@dataclass
class Round:
    rate: float  # transfers/s
    latencies: list[float]  # ms
    posted: int  # the warm-ups included
    client_cpu: float  # seconds of CPU the workers spent while the clock ran


def transfer_round(path: str, scenario: str, round_no: int, seconds: float) -> Round:
    """``WORKERS`` processes post for ``seconds``."""
    start_at = time.perf_counter() + 1.0  # time for every worker to connect and warm up
    seeds = [f"r{round_no}-{scenario}-w{n}" for n in range(WORKERS)]
    results = in_processes(
        _transfer_worker, [(path, scenario, seed, start_at, seconds) for seed in seeds]
    )
    total = sum(result[0] for result in results)
    ended = max(result[2] for result in results)
    return Round(
        rate=total / (ended - start_at),
        latencies=[ms for result in results for ms in result[1]],
        posted=total + WORKERS,
        client_cpu=sum(result[3] for result in results),
    )


# --- hold_settle ----------------------------------------------------------------------


def hold_settle_measure(payouts: int) -> float:
    """One hold of ``payouts`` units on a group account, settled into ``payouts`` user
    accounts of 1 each; returns the seconds ``hold_settle`` took."""
    from wallet.services import account_get_or_create, hold_create, hold_settle

    ledgers = _ledgers()
    group = account_get_or_create(
        tenant=ledgers.tenant,
        owner_kind="group",
        owner_id=GROUP_CHAT_ID,
        currency=CURRENCY,
        kind="available",
    )
    _fund(group, payouts, "bench-hold-funds")
    hold = hold_create(
        tenant=ledgers.tenant,
        group_account=group,
        amount=payouts,
        reference="bench-settle",
        idempotency_key="bench-hold",
    )
    with Stopwatch() as sw:
        payees = ours_accounts(1_000_001, payouts, 0)
    say(f"  setup: {payouts} payee accounts in {sw.seconds:.1f} s")
    with Stopwatch() as sw:
        hold_settle(
            hold=hold, payouts=[(payee, 1) for payee in payees], idempotency_key="bench-settle"
        )
    return sw.seconds


def pgledger_batch_measure(payouts: int) -> float:
    """For information: pgledger's one-call batch of as many transfers out of one account."""
    conn = peers.pgledger_connect(_ledgers().url)
    try:
        source = peers.pgledger_source_account(conn, name="batch-source")
        escrow = peers.pgledger_accounts(conn, prefix="batch-escrow", count=1)[0]
        peers.pgledger_fund(conn, source=source, accounts=[escrow], amount=payouts)
        payees = peers.pgledger_accounts(conn, prefix="batch-payee", count=payouts)
        with Stopwatch() as sw:
            made = peers.pgledger_batch(conn, debit=escrow, credits=payees, amount=1)
    finally:
        conn.close()
    if made != payouts:
        raise RuntimeError(f"pgledger made {made} transfers of {payouts}")
    return sw.seconds


# --- The run --------------------------------------------------------------------------


def peers_setup(url: str, sizes: dict[str, int]) -> None:
    ledgers = _ledgers()
    source = peers.pgledger_source()
    with Stopwatch() as sw:
        peers.pgledger_install(url, source)
        peers.raw_install(url)
        conn = peers.pgledger_connect(url)
        raw = peers.raw_connect(url)
        try:
            funding = peers.pgledger_source_account(conn, name="deposits")
            for scenario in SCENARIOS:
                ids = peers.pgledger_accounts(conn, prefix=scenario, count=sizes[scenario])
                peers.pgledger_fund(conn, source=funding, accounts=ids, amount=FUNDS)
                ledgers.accounts[(scenario, "pgledger")] = ids
                ledgers.accounts[(scenario, "raw")] = peers.raw_accounts(
                    raw, count=sizes[scenario], balance=FUNDS
                )
        finally:
            conn.close()
            raw.close()
    say(f"  setup: pgledger (from {source}) and raw SQL installed and funded in {sw.seconds:.1f} s")


def peers_verify(url: str, posted: dict[str, int], raw_funds: int) -> None:
    """Both peers conserved money and recorded every transfer counted."""
    conn = peers.pgledger_connect(url)
    raw = peers.raw_connect(url)
    try:
        pg_total, pg_transfers = peers.pgledger_totals(conn)
        raw_total, raw_transfers = peers.raw_totals(raw)
    finally:
        conn.close()
        raw.close()
    funded = sum(len(_ledgers().accounts[(s, "pgledger")]) for s in SCENARIOS)
    problems = []
    if pg_total != 0 or pg_transfers != posted["pgledger"] + funded:
        problems.append(f"pgledger: balances sum to {pg_total}, {pg_transfers} transfers")
    if raw_total != raw_funds or raw_transfers != posted["raw"]:
        problems.append(f"raw SQL: balances sum to {raw_total}, {raw_transfers} transfers")
    if problems:
        raise RuntimeError("a peer lost money or transfers: " + "; ".join(problems))
    say("  checked: both peers conserved money and recorded every transfer counted")


def transfers_report(results: dict[tuple[str, str], list[Round]], paths: Sequence[str]) -> None:
    """The table (median of the rounds, their extremes, latencies over all rounds, the
    workers' own CPU per transfer: what the client side costs), the ratios, the goals."""
    say(
        f"  {'accounts':<8} {'path':<20} {'transfers/s (median)':>21} {'rounds min-max':>15} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'client CPU us':>14}"
    )
    rates: dict[tuple[str, str], float] = {}
    for scenario in SCENARIOS:
        for path in paths:
            rounds = results[(scenario, path)]
            per_round = [x.rate for x in rounds]
            latencies = [ms for x in rounds for ms in x.latencies]
            cpu_us = sum(x.client_cpu for x in rounds) / len(latencies) * 1e6
            rates[(scenario, path)] = median(per_round)
            extremes = f"{min(per_round):.0f}-{max(per_round):.0f}"
            say(
                f"  {scenario:<8} {LABELS[path]:<20} {median(per_round):>21.0f} {extremes:>15} "
                f"{percentile(latencies, 50):>7.2f} {percentile(latencies, 99):>7.2f} "
                f"{cpu_us:>14.0f}"
            )
    for scenario in SCENARIOS:
        pgledger, raw = rates[(scenario, "pgledger")], rates[(scenario, "raw")]
        say(f"  {scenario}: pgledger / raw SQL = {pgledger / raw:.2f}")
        if "ours" not in paths:
            continue
        ours = rates[(scenario, "ours")]
        say(
            f"  {scenario}: ours / pgledger = {ours / pgledger:.2f}, "
            f"ours / raw SQL = {ours / raw:.2f}"
        )
        goal(
            f"{scenario}: ours / pgledger >= {GOAL_VS_PGLEDGER:.1f} ({ours / pgledger:.2f})",
            ours / pgledger >= GOAL_VS_PGLEDGER,
        )
        goal(
            f"{scenario}: ours / raw SQL >= {GOAL_VS_RAW:.1f} ({ours / raw:.2f})",
            ours / raw >= GOAL_VS_RAW,
        )


def run() -> None:
    global LEDGERS
    skip_ours = ours_skipped()
    if not skip_ours:
        ours_check_installed()
    paths = tuple(p for p in PATHS if not (skip_ours and p == "ours"))
    rounds = pick(5, 1)
    seconds = 0.3 if quick() else 3.0
    sizes = {"spread": pick(1000, 40), "hot": 10}
    payouts = pick(10_000, 200)
    url = os.environ["DATABASE_URL"]
    LEDGERS = Ledgers(url=url)

    header("wallet transfers: transfer_post vs pgledger vs raw SQL, 8 worker processes")
    if skip_ours:
        say(
            f"  ours: SKIPPED ({SKIP_ENV}=skip): transfer_post and hold_settle not measured, "
            "their goals not evaluated"
        )
    else:
        ours_setup(sizes)
    peers_setup(url, sizes)
    say(
        f"  {rounds} round(s) x {seconds:g} s per path and account set, interleaved; "
        f"spread: {sizes['spread']} accounts, random pairs; "
        f"hot: {sizes['hot']} accounts, one in every transfer"
    )

    results: dict[tuple[str, str], list[Round]] = {}
    for r in range(rounds):
        for scenario in SCENARIOS:
            # Rotate the order so no path always runs first (or right after another).
            turn = (r + SCENARIOS.index(scenario)) % len(paths)
            for path in paths[turn:] + paths[:turn]:
                results.setdefault((scenario, path), []).append(
                    transfer_round(path, scenario, r, seconds)
                )
        say(f"  ... round {r + 1}/{rounds} done")
    posted = {path: sum(x.posted for s in SCENARIOS for x in results[(s, path)]) for path in paths}
    peers_verify(url, posted, raw_funds=FUNDS * sum(sizes.values()))
    transfers_report(results, paths)

    took = pgledger_batch_measure(payouts)
    say(
        f"  info: pgledger_create_transfers, {payouts} transfers out of one account in one "
        f"call: {took:.2f} s ({payouts / took:.0f} transfers/s)"
    )
    if skip_ours:
        return
    took = hold_settle_measure(payouts)
    say(f"  hold_settle: one hold into {payouts} payouts in {took:.2f} s ({payouts / took:.0f}/s)")
    goal(
        f"hold_settle >= {GOAL_PAYOUTS_PER_S:.0f} payouts/s ({payouts / took:.0f})",
        payouts / took >= GOAL_PAYOUTS_PER_S,
    )
