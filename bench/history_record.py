"""history.record throughput in one tenant: 1 and 4 concurrent writers, each a process
with its own connection, each record its own autocommit transaction (as a service call
that writes one audited change). Beside it, in the same run and the same way, a plain
INSERT of the same row, which shows what recording costs beyond the insert itself.
Entries are linked into their hash chain afterwards by the sealer
(history.services.history_seal, the ``history.seal`` job); its rate is printed too, and
every chain is verified at the end.

Writers are processes rather than threads so that Python's GIL does not serialise the
client side: what is measured is the database path.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection

from django.db import connection, connections

from bench.common import (
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

GOAL_ROWS_PER_S = 2000.0

_PLAIN = """
INSERT INTO history_entry (tenant_id, chain, seq, actor_type, actor_id, action, target_type,
                           target_id, data, ip, user_agent, created_at, prev_hash, hash)
VALUES (%(tenant)s, %(chain)s, %(seq)s, %(actor_type)s, %(actor_id)s, %(action)s,
        %(target_type)s, %(target_id)s, %(data)s::jsonb, NULL, '', %(created_at)s,
        %(hash)s, %(hash)s)
RETURNING id
"""


def _writer(kind: str, tenant_id: int, start_at: float, seconds: float, out: Connection) -> None:
    """One writer process: append rows until the deadline, report (rows, latencies)."""
    from history.services import Actor, record

    connections.close_all()  # never reuse the parent's socket after fork
    actor = Actor.user(4242)
    pid = os.getpid()
    latencies: list[float] = []
    i = 0
    # Connect (and warm the statement path) before the common start.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while (now := time.perf_counter()) < deadline:
        i += 1
        data = {"raid": i, "points": 10, "reason": "bench"}
        if kind != "plain":
            record(
                action="points.awarded",
                actor=actor,
                tenant=tenant_id,
                target=("user", 4242),
                data=data,
            )
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    _PLAIN,
                    {
                        "tenant": tenant_id,
                        "chain": f"plain-{pid}",
                        "seq": i,
                        "actor_type": actor.type,
                        "actor_id": actor.id,
                        "action": "points.awarded",
                        "target_type": "user",
                        "target_id": "4242",
                        "data": json.dumps(data),
                        "created_at": datetime.now(UTC),
                        "hash": "0" * 64,
                    },
                )
                cursor.fetchone()
        latencies.append(time.perf_counter() - now)
    connection.close()
    out.send((len(latencies), latencies))
    out.close()


def _round(
    kind: str, writers: int, tenant_ids: list[int], seconds: float
) -> tuple[float, list[float]]:
    """Run ``writers`` processes for ``seconds``; return rows/s and all latencies (ms).
    ``spread`` writers each write a tenant (a chain) of their own, the others share one."""
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    start_at = time.perf_counter() + 0.5  # time for every child to connect
    pipes, procs = [], []
    for n in range(writers):
        tenant_id = tenant_ids[n] if kind == "spread" else tenant_ids[0]
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_writer, args=(kind, tenant_id, start_at, seconds, send))
        proc.start()
        send.close()
        pipes.append(recv)
        procs.append(proc)
    rows, latencies = 0, []
    for recv in pipes:
        count, lat = recv.recv()
        rows += count
        latencies.extend(x * 1000 for x in lat)
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a writer process exited with {proc.exitcode}")
    return rows / seconds, latencies


def run() -> None:
    from history.selectors import tenant_chain_verify
    from tenancy.services import tenant_create

    rounds = pick(3, 1)
    seconds = 0.4 if quick() else 4.0
    header("history.record (sealed into the hash chain after commit) vs plain INSERT, one tenant")
    platform_ready()
    tenants = [
        tenant_create(
            slug=f"bench-history-{n}",
            name="Bench",
            domain=f"history-{n}.bench",
            bot_token=bot_token_for(n),
        )
        for n in range(1, 5)
    ]
    tenant_ids = [t.pk for t in tenants]
    say(
        f"  {rounds} rounds x {seconds:g} s per configuration, interleaved; "
        "each record its own autocommit transaction"
    )
    # "spread" (4 writers, 4 tenants) is not a goal figure: it shows how much of the
    # 4-writer figure is the one chain's head-row lock.
    configs = [("chain", 1), ("plain", 1), ("chain", 4), ("plain", 4), ("spread", 4)]
    rates: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    lats: dict[tuple[str, int], list[float]] = {c: [] for c in configs}
    for r in range(1, rounds + 1):
        for kind, writers in configs:
            rate, latencies = _round(kind, writers, tenant_ids, seconds)
            rates[(kind, writers)].append(rate)
            lats[(kind, writers)].extend(latencies)
        say(f"  ... round {r}/{rounds} done")

    from history.services import history_seal

    started = time.perf_counter()
    sealed = history_seal(limit_per_chain=10**9)
    took = time.perf_counter() - started
    say(
        f"  sealer: linked {sealed} recorded entries into their chains in {took:.2f} s "
        f"({sealed / took:.0f} rows/s, one sealer)"
    )
    for tenant in tenants:
        report = tenant_chain_verify(tenant=tenant)
        if not report.ok:
            raise RuntimeError(f"the chain is broken after concurrent appends: {report.error}")
    say(f"  chains verified after the run: {len(tenants)}, ok")
    labels = {
        "chain": "history.record",
        "plain": "plain INSERT",
        "spread": "history.record, 4 tenants (info)",
    }
    say(f"  {'writers':<8} {'path':<34} {'rows/s (median)':>16} {'p50 ms':>8} {'p99 ms':>8}")
    for kind, writers in configs:
        label = labels[kind]
        values = lats[(kind, writers)]
        say(
            f"  {writers:<8} {label:<34} {median(rates[(kind, writers)]):>16.0f} "
            f"{percentile(values, 50):>8.3f} {percentile(values, 99):>8.3f}"
        )
    for writers in (1, 4):
        chain = median(rates[("chain", writers)])
        plain = median(rates[("plain", writers)])
        say(f"  {writers} writer(s): history.record / plain INSERT = {chain / plain:.2f}")
        goal(
            f"{writers} writer(s) >= {GOAL_ROWS_PER_S:.0f} rows/s ({chain:.0f})",
            chain >= GOAL_ROWS_PER_S,
        )
