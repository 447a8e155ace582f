"""Memory of the pooled runtime: one ``manage.py runbots`` process hosting 1, 50 and 200
bots, each the bot of a community of its own (registered in the database and on the
sandbox Telegram), measured in the same run; the 1-bot process is the baseline the
others are compared to.

Each configuration is a fresh process started as an operator starts it (``runbots --bot
ID ...``, long polling: the default without a webhook URL) with ``--no-jobs``: durable
jobs belong to the installation, not to the bots a process hosts (every runtime claims
from the same table), so they would only add noise to the per-bot difference. Once
runbots reports it is hosting the bots, its resident set is sampled every half second
until it settles (six samples within 0.5 %, at most 30 s); the median of those samples
is the figure. RSS and USS (memory private to the process: what stopping it frees) come
from /proc. Configurations are interleaved round by round.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import (
    bot_token_for,
    goal,
    header,
    median,
    pick,
    platform_ready,
    progress,
    quick,
    say,
)
from bench.runtime_updates import RunBots, log_errors

GOAL_MB_PER_BOT = 2.0
FIRST_BOT = 1000  # bot_token_for(n): this benchmark's bots
SETTLE_SAMPLES = 6
SETTLE_SPREAD = 0.005
SETTLE_MAX_S = 30.0
MB = 1024 * 1024


def memory(pid: int) -> tuple[int, int]:
    """(RSS, USS) of a process in bytes, from /proc (Linux)."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[-1] == "kB":
            fields[name] = int(parts[0]) * 1024
    return fields["Rss"], fields["Private_Clean"] + fields["Private_Dirty"]


def settled(pid: int) -> tuple[float, float, float]:
    """Sample until the RSS settles; (median RSS, median USS, seconds it took)."""
    started = time.monotonic()
    samples: list[tuple[int, int]] = []
    wanted = pick(SETTLE_SAMPLES, 3)
    while True:
        samples.append(memory(pid))
        last = samples[-wanted:]
        rss = [s[0] for s in last]
        if len(last) == wanted and (max(rss) - min(rss)) <= SETTLE_SPREAD * max(rss):
            break
        if time.monotonic() - started > SETTLE_MAX_S:
            break
        time.sleep(0.5)
    return median(rss), median([s[1] for s in last]), time.monotonic() - started


def run() -> None:
    from sandbox.telegram import Limits, SandboxTelegram
    from tenancy.services import tenant_create

    sizes = (1, 4) if quick() else (1, 50, 200)
    rounds = pick(3, 1)
    header(f"runtime_memory: one runbots process hosting {', '.join(map(str, sizes))} bots")
    platform_ready()
    tg = SandboxTelegram(limits=Limits())
    api_base = tg.start()
    bot_ids = []
    for n in range(sizes[-1]):
        token = bot_token_for(FIRST_BOT + n)
        tenant_create(
            slug=f"bench-mem-{n}", name=f"Bench Mem {n}", domain=f"mem-{n}.bench", bot_token=token
        )
        bot_ids.append(tg.add_bot(token, username=f"bench_mem_{n}_bot")["id"])
        progress("communities with a bot created", n + 1, sizes[-1], 50)
    say(
        f"  runbots --bot ... --no-jobs (long polling) against the sandbox; {rounds} rounds, "
        "configurations interleaved; figures: median of the settled samples, then of rounds"
    )
    log = tempfile.TemporaryFile()
    rss: dict[int, list[float]] = {size: [] for size in sizes}
    uss: dict[int, list[float]] = {size: [] for size in sizes}
    settle: dict[int, list[float]] = {size: [] for size in sizes}
    hosted: dict[int, str] = {}
    try:
        for r in range(1, rounds + 1):
            for size in sizes:
                args = [a for b in bot_ids[:size] for a in ("--bot", str(b))]
                runtime = RunBots([*args, "--no-jobs"], api_base=api_base, log=log)
                try:
                    hosted[size] = runtime.start()
                    resident, private, took = settled(runtime.pid)
                finally:
                    runtime.stop()
                rss[size].append(resident)
                uss[size].append(private)
                settle[size].append(took)
            say(f"  ... round {r}/{rounds} done")
    finally:
        tg.stop()
    errors = log_errors(log)
    log.close()
    for size in sizes:
        if f"hosting {size} bot(s)" not in hosted[size]:
            raise RuntimeError(f"runbots did not host {size} bots: {hosted[size]!r}")

    say(f"  {'bots':>5} {'RSS MB (median)':>16} {'USS MB (median)':>16} {'settled in s':>13}")
    for size in sizes:
        say(
            f"  {size:>5} {median(rss[size]) / MB:>16.1f} {median(uss[size]) / MB:>16.1f} "
            f"{median(settle[size]):>13.1f}"
        )
    base, top = sizes[0], sizes[-1]
    per_bot: dict[int, float] = {}
    for size in sizes[1:]:
        per_bot[size] = (median(rss[size]) - median(rss[base])) / (size - base) / MB
        per_uss = (median(uss[size]) - median(uss[base])) / (size - base) / MB
        say(
            f"  per additional bot, {base} -> {size}: RSS {per_bot[size] * 1024:.0f} KiB, "
            f"USS {per_uss * 1024:.0f} KiB"
        )
    if errors:
        say(f"  RUNTIME ERRORS logged: {len(errors)}; first: {errors[0]}")
    goal(
        f"(RSS{top} - RSS{base}) / {top - base} <= {GOAL_MB_PER_BOT:g} MB per bot "
        f"({per_bot[top]:.2f} MB)",
        per_bot[top] <= GOAL_MB_PER_BOT,
    )
