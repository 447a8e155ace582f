"""provisioner: desired state of 1,000 isolated bots (quick: 40) over 20 tenants (quick: 4),
every kind, one in four in webhook mode, rendered and applied by the Kubernetes backend
through the official client against the Kubernetes API double (kmock, over HTTP, in a
process of its own, as an API server is). Printed: render alone, the first apply
(everything created), a second apply with no change (median of 3: reads only, 0 writes),
a parameter change of every bot, and the naive way beside it (every object PATCHed on
every apply, no digest skip)."""

from __future__ import annotations

import dataclasses
import os
import time

from bench.common import goal, header, median, pick, say

GOAL_MS_PER_BOT = 20.0
IMAGE = "ghcr.io/bragabot/bragabot:bench"
KINDS = {
    "white_label": {"brand_name": "Bench brand"},
    "moderation": {"group_name": "Bench group", "banned_words": ["spam", "scam"]},
    "task": {
        "campaign_name": "Bench",
        "tasks": [{"title": "Follow", "url": "https://x.com/bench", "points": 10}],
    },
    "airdrop": {"project_name": "Bench", "token_symbol": "BNC", "max_claims": 500},
}


def _specs(n: int, tenants: int) -> list:
    from provisioner.spec import BotSpec, Placement

    kinds = list(KINDS)
    return [
        BotSpec(
            tenant=f"bench-{i % tenants}",
            tenant_id=i % tenants,
            bot_id=900_000_000 + i,
            kind=kinds[i % len(kinds)],
            parameters=KINDS[kinds[i % len(kinds)]],
            placement=Placement.ISOLATED,
            token=f"{900_000_000 + i}:AAHbench-token-{i:06d}",
            username=f"bench_{i}_bot",
            texts={"welcome": f"Welcome to bench bot {i}"},
            webhook_url="https://bots.bench.example" if i % 4 == 0 else None,
        )
        for i in range(n)
    ]


def _counts(url: str) -> tuple[int, int]:
    """(requests, writes) the API double has had so far."""
    from sandbox.kubernetes import WRITES, remote_calls

    calls = remote_calls(url)
    return len(calls), sum(method in WRITES for method, _ in calls)


def _timed(backend, specs, url) -> tuple[float, int, int]:
    """(ms per bot, requests, writes) of one apply of every spec, the requests and writes
    as the API server counted them."""
    requests, writes = _counts(url)
    started = time.perf_counter()
    rollouts = backend.apply_many(specs)
    ms = (time.perf_counter() - started) * 1000 / len(specs)
    requests_after, writes_after = _counts(url)
    written = writes_after - writes
    if written != sum(r.writes for r in rollouts.values()):
        raise AssertionError("the backend's write count disagrees with the API's")
    return ms, requests_after - requests, written


def _measure(label: str, *, digest_skip: bool, specs: list) -> dict[str, float]:
    from kubernetes.client import ApiClient, Configuration

    from provisioner.kubernetes import KubernetesBackend
    from sandbox.kubernetes import serve_process

    n = len(specs)
    with serve_process() as url:
        configuration = Configuration()
        configuration.host = url
        with ApiClient(configuration) as client:
            backend = KubernetesBackend(client, image=IMAGE, digest_skip=digest_skip)
            first_ms, first_requests, first_writes = _timed(backend, specs, url)
            say(
                f"  {label}: first apply: {first_ms:.2f} ms/bot; "
                f"{first_requests} requests, {first_writes} writes"
            )
            runs = [_timed(backend, specs, url) for _ in range(3)]
            second_ms = median([r[0] for r in runs])
            _, second_requests, second_writes = runs[-1]
            say(
                f"  {label}: second apply, no change (median of 3): {second_ms:.2f} ms/bot; "
                f"{second_requests} requests, {second_writes} writes"
            )
            changed = [
                dataclasses.replace(s, parameters={**s.parameters, "bench_round": 2}) for s in specs
            ]
            change_ms, change_requests, change_writes = _timed(backend, changed, url)
            say(
                f"  {label}: every bot's parameters changed: {change_ms:.2f} ms/bot; "
                f"{change_requests} requests, {change_writes} writes "
                f"({change_writes / n:.1f} per bot)"
            )
    return {
        "first_ms": first_ms,
        "second_ms": second_ms,
        "second_writes": second_writes,
        "first_writes": first_writes,
    }


def run() -> None:
    from provisioner.desired import desired_objects

    header("provisioner_desired: render + apply of isolated bots against the Kubernetes API double")
    n = pick(1000, 40)
    tenants = pick(20, 4)
    specs = _specs(n, tenants)
    say(f"  bots: {n} over {tenants} tenants (kinds: {', '.join(KINDS)}; 1 in 4 webhook)")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    say(f"  machine: {os.cpu_count()} CPUs, load average {load} (timings scale with it)")

    renders = []
    for _ in range(3):
        started = time.perf_counter()
        objects = sum(len(desired_objects(spec, image=IMAGE)) for spec in specs)
        renders.append((time.perf_counter() - started) * 1000 / n)
    say(f"  render alone (median of 3): {median(renders):.2f} ms/bot; {objects} objects")

    ours = _measure("ours (digest skip)", digest_skip=True, specs=specs)
    naive = _measure("naive (PATCH everything)", digest_skip=False, specs=specs)
    say(
        f"  second apply: ours {ours['second_writes']:.0f} writes, "
        f"naive {naive['second_writes']:.0f} writes; "
        f"ours / naive time: {ours['second_ms'] / naive['second_ms']:.2f}"
    )
    goal(
        f"first apply (render + apply, everything created) <= {GOAL_MS_PER_BOT:.0f} ms/bot "
        f"(measured {ours['first_ms']:.2f})",
        ours["first_ms"] <= GOAL_MS_PER_BOT,
    )
    goal(
        f"second apply with no change: 0 writes (measured {ours['second_writes']:.0f})",
        ours["second_writes"] == 0,
    )
