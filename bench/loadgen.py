"""HTTP load generator for the api_me benchmark: ``python -m bench.loadgen`` reads a JSON
plan on stdin, runs it with keep-alive aiohttp clients, writes JSON results to stdout.

It runs in a process of its own so the client's CPU is not the server's. Segments are
run round by round so each sees the same machine noise, and each round starts one
segment later (A B C, B C A, C A B, ...) so none always follows the same neighbour.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp


async def _segment(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    concurrency: int,
    warmup: float,
    duration: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    measuring = False
    finished_at = 0.0
    warmup_count = 0

    async def client(deadline: float) -> None:
        nonlocal finished_at, warmup_count
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                status = response.status
            done = time.perf_counter()
            if measuring:
                statuses[status] += 1
                latencies.append((done - started) * 1000)
                finished_at = max(finished_at, done)
            else:
                warmup_count += 1

    await asyncio.gather(*(client(time.perf_counter() + warmup) for _ in range(concurrency)))
    measuring = True
    started = time.perf_counter()
    await asyncio.gather(*(client(started + duration) for _ in range(concurrency)))
    elapsed = finished_at - started
    return {
        "count": len(latencies),
        "warmup_count": warmup_count,
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed > 0 else 0.0,
        "statuses": {str(k): v for k, v in statuses.items()},
        "latencies_ms": latencies,
    }


async def main(plan: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    connector = aiohttp.TCPConnector(limit=plan["concurrency"], force_close=False)
    async with aiohttp.ClientSession(plan["base_url"], connector=connector) as session:
        segments = plan["segments"]
        for round_no in range(1, plan["rounds"] + 1):
            shift = (round_no - 1) % len(segments)
            for segment in segments[shift:] + segments[:shift]:
                result = await _segment(
                    session,
                    segment["path"],
                    segment["headers"],
                    plan["concurrency"],
                    plan["warmup"],
                    plan["duration"],
                )
                results.append({"name": segment["name"], "round": round_no, **result})
            print(f"  ... load round {round_no}/{plan['rounds']} done", file=sys.stderr, flush=True)
    return results


if __name__ == "__main__":
    json.dump(asyncio.run(main(json.load(sys.stdin))), sys.stdout)
