"""Runtime shards: how many pooled bots change runtime when the shards go from 4 to 5,
with the runtime's rendezvous hashing (``botruntime.shards.shard_of``) and, in the same
run over the same ids, the naive ``bot_id % N``.

Ids are 100,000 distinct random Telegram-sized bot ids (seeded: every run draws the same).
Adding a fifth shard can at best move the fifth of the bots that the new shard must host
(the ideal, 1/5); the goal is at most 1.2 times that. Also printed per scheme: where the
moved bots went (rendezvous moves a bot only onto the new shard), the smallest and the
largest shard at 4 and 5, and the time one ``shard_of`` takes (every runtime shard hashes
every pooled bot once a minute, when it re-reads the bot list).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable

from bench.common import goal, header, pick, say

GOAL_RATIO = 1.2
BEFORE, AFTER = 4, 5
SEED = 20_251_203


def naive(bot_id: int, count: int) -> int:
    return bot_id % count


def spread(place: Callable[[int, int], int], ids: list[int], count: int) -> list[int]:
    return [place(bot_id, count) for bot_id in ids]


def report(name: str, place: Callable[[int, int], int], ids: list[int]) -> float:
    """Print one scheme's figures; the moved share over the ideal."""
    started = time.perf_counter()
    before = spread(place, ids, BEFORE)
    after = spread(place, ids, AFTER)
    per_call_us = (time.perf_counter() - started) / (2 * len(ids)) * 1e6
    moved = [(old, new) for old, new in zip(before, after, strict=True) if old != new]
    share, ideal = len(moved) / len(ids), 1 / AFTER
    onto_new = sum(new == AFTER - 1 for _, new in moved)
    say(
        f"  {name}: moved {len(moved):,} of {len(ids):,} = {share:.2%}; "
        f"ideal 1/{AFTER} = {ideal:.2%}; ratio {share / ideal:.2f}"
    )
    say(f"    moved onto the new shard: {onto_new:,} of {len(moved):,}")
    for count, placed in ((BEFORE, before), (AFTER, after)):
        sizes = Counter(placed)
        mean = len(ids) / count
        say(
            f"    per shard at {count}: min {min(sizes.values()):,} max {max(sizes.values()):,} "
            f"(max / mean {max(sizes.values()) / mean:.3f})"
        )
    say(f"    {per_call_us:.2f} µs per placement (mean over both passes)")
    return share / ideal


def run() -> None:
    from botruntime.shards import shard_of

    count = pick(100_000, 10_000)
    header(f"runtime_shards: {count:,} bot ids, {BEFORE} -> {AFTER} shards")
    ids = random.Random(SEED).sample(range(10**9, 8 * 10**9), count)
    ours = report("rendezvous (shard_of)", shard_of, ids)
    peer = report("naive bot_id % N", naive, ids)
    say(f"  side by side, moved / ideal: rendezvous {ours:.2f}, naive {peer:.2f}")
    goal(f"rendezvous moved / ideal 1/{AFTER} <= {GOAL_RATIO} ({ours:.2f})", ours <= GOAL_RATIO)
