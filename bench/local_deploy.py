"""The local backend: from deploying a NEW white-label bot (``LocalBackend.apply``, the
bot's own ``runbots --bot ID`` process) to its first reply to /start in the sandbox
Telegram. Each round is a new community with a new bot; the user writes /start right
after the deploy returns (the sandbox queues it until the bot polls).

Phases, from the deploy's start: the process is there (a warm spare adopted, or a new
process spawned), runbots prints that it hosts the bot ("hosting" line: the status turns
running), the reply arrives. The figure is with the backend's warm spare (a runtime
process started ahead, Django already set up): the spare is warm at each deploy, as it
is whenever deploys are further apart than its warm-up. Measured in the same run: the
same without the spare (a fresh ``python manage.py runbots``: Python and Django start
first), and the baseline of a new POOLED bot, which the shared runtime picks up on its
periodic refresh (computed from its interval, BOTS_REFRESH_EVERY, not measured).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import bot_token_for, goal, header, median, pick, platform_ready, say

GOAL_S = 3.0
FIRST_BOT = 2000  # bot_token_for(n): this benchmark's bots
USER = 6_200_001


def deploy_and_talk(backend, tg, *, n: int, tenant_create) -> dict[str, float]:
    """One new community and bot, deployed; seconds from apply to each phase."""
    from provisioner.spec import BotSpec, Placement, Status

    token = bot_token_for(FIRST_BOT + n)
    tenant = tenant_create(
        slug=f"bench-deploy-{n}",
        name=f"Bench Deploy {n}",
        domain=f"deploy-{n}.bench",
        bot_token=token,
    )
    bot_id = tg.add_bot(token, username=f"bench_deploy_{n}_bot")["id"]
    spec = BotSpec(
        tenant=tenant.slug,
        tenant_id=tenant.id,
        bot_id=bot_id,
        kind="white_label",
        parameters={"brand_name": f"Bench {n}", "default_language": "en"},
        placement=Placement.ISOLATED,
        token=token,
    )
    key = {"tenant": tenant.slug, "bot_id": bot_id}
    phases: dict[str, float] = {}
    started = time.perf_counter()
    backend.apply(spec)
    phases["apply returned"] = time.perf_counter() - started
    tg.send_message(bot_id, USER, USER, "/start")
    deadline = started + 120
    while "first reply" not in phases:
        now = time.perf_counter()
        if now > deadline:
            raise RuntimeError(f"no reply from bot {bot_id}: {backend.status(**key)}")
        if "process there" not in phases and backend.pid(**key) is not None:
            phases["process there"] = now - started
        if "hosting" not in phases and backend.status(**key).status is Status.RUNNING:
            phases["hosting"] = now - started
        if tg.sent(bot_id, USER):
            phases["first reply"] = now - started
        time.sleep(0.005)
    return phases


def measure(label: str, backend, tg, rounds: int, first: int, tenant_create) -> list[float]:
    say(f"  -- {label}")
    say(f"  {'round':>5} {'process there':>14} {'hosting':>9} {'first reply':>12}   (s)")
    replies = []
    for r in range(rounds):
        if backend.use_spare:
            deadline = time.monotonic() + 180
            while not backend.spare_warm():  # as between deploys spaced wider than this
                if time.monotonic() > deadline:
                    raise RuntimeError("the spare did not warm up in 180 s")
                time.sleep(0.05)
        phases = deploy_and_talk(backend, tg, n=first + r, tenant_create=tenant_create)
        replies.append(phases["first reply"])
        say(
            f"  {r + 1:>5} {phases.get('process there', float('nan')):>14.2f} "
            f"{phases.get('hosting', phases['first reply']):>9.2f} {phases['first reply']:>12.2f}"
        )
    say(f"  median first reply: {median(replies):.2f} s")
    return replies


def run() -> None:
    from bench.runtime_updates import child_env
    from botruntime.runtime import BOTS_REFRESH_EVERY
    from provisioner.local import LocalBackend
    from sandbox.telegram import Limits, SandboxTelegram
    from tenancy.services import tenant_create

    rounds, cold_rounds = pick(5, 2), pick(2, 1)
    header(f"local_deploy: a new white-label bot deployed to its first reply, {rounds} rounds")
    platform_ready()
    tg = SandboxTelegram(limits=Limits())
    api_base = tg.start()
    tg.add_user(USER, "Alice", username="alice", language_code="en")
    env = child_env(TELEGRAM_API_BASE=api_base)
    state = Path(tempfile.mkdtemp(prefix="bench-local-deploy-"))
    warm = LocalBackend(state / "warm", env=env)
    cold = LocalBackend(state / "cold", env=env, spare=False)
    try:
        replies = measure("with the warm spare (the default)", warm, tg, rounds, 0, tenant_create)
        warm.shutdown()  # its bots stop: the next figure runs on a quiet machine
        cold_replies = measure(
            "info: without the spare (a fresh python manage.py runbots each time)",
            cold,
            tg,
            cold_rounds,
            rounds,
            tenant_create,
        )
    finally:
        warm.shutdown()
        cold.shutdown()
        tg.stop()
    say(
        f"  baseline: a new POOLED bot waits for the shared runtime's refresh, every "
        f"{BOTS_REFRESH_EVERY:g} s: {BOTS_REFRESH_EVERY / 2:g} s on average, "
        f"{BOTS_REFRESH_EVERY:g} s at worst (computed from the interval, not measured)"
    )
    say(f"  with the spare / without: {median(replies):.2f} s / {median(cold_replies):.2f} s")
    goal(
        f"median first reply <= {GOAL_S:g} s after the deploy ({median(replies):.2f} s)",
        median(replies) <= GOAL_S,
    )
