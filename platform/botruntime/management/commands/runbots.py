"""``manage.py runbots``: host the bots and run the durable jobs until Ctrl-C / SIGTERM.

runbots [--bot ID ... | --shard I/N] [--serve updates,dispatch,jobs] [--webhook URL]
        [--listen HOST] [--port N] [--no-jobs]

Without ``--bot`` it hosts every pooled bot, or with ``--shard I/N`` (default:
``BOT_SHARD``) the pooled bots hashed to shard I of N; ``--bot`` hosts the bots named,
whatever their placement (an isolated bot's own workload). ``--serve`` picks what this
process does: its bots' updates, their notification dispatchers, the durable jobs
(claimed from one queue by every runtime serving them). Without ``--webhook`` every bot
long-polls. With it, one HTTP server on ``--listen:--port`` receives every bot's updates
at ``URL/telegram/webhook/<bot_id>`` (URL is the public address Telegram reaches, e.g.
behind a TLS proxy).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from botruntime.runtime import JOBS, SERVE_PARTS, Runtime
from botruntime.shards import Shard


class Command(BaseCommand):
    help = "Host the Telegram bots (long polling or webhooks) and run the durable jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bot",
            type=int,
            action="append",
            dest="bot_ids",
            metavar="ID",
            help="host only this bot (Telegram id), whatever its placement; repeat for several "
            "(default: every pooled bot)",
        )
        parser.add_argument(
            "--shard",
            metavar="I/N",
            help="host only the pooled bots hashed to shard I of N, 0 <= I < N "
            "(default: BOT_SHARD, else every pooled bot)",
        )
        parser.add_argument(
            "--serve",
            default=",".join(SERVE_PARTS),
            metavar="PARTS",
            help=f"what to serve, a comma list of {', '.join(SERVE_PARTS)} (default: all)",
        )
        parser.add_argument(
            "--webhook",
            default=settings.BOT_WEBHOOK_URL or None,
            metavar="URL",
            help="receive updates by webhook at this public base URL (default: long polling)",
        )
        parser.add_argument("--listen", default="0.0.0.0", help="webhook server address")  # noqa: S104
        parser.add_argument("--port", type=int, default=settings.BOT_WEBHOOK_PORT)
        parser.add_argument("--no-jobs", action="store_true", help="do not run durable jobs")

    def handle(self, *args: Any, **options: Any) -> None:
        webhook = options["webhook"]
        if webhook and not webhook.startswith(("https://", "http://")):
            raise CommandError(f"--webhook must be an http(s) URL, not {webhook!r}", returncode=2)
        serve = serve_parts(options["serve"], no_jobs=options["no_jobs"])
        shard = shard_option(options["shard"], bot_ids=options["bot_ids"])
        runtime = Runtime(
            bot_ids=options["bot_ids"],
            shard=shard,
            serve=serve,
            webhook_url=webhook,
            listen=options["listen"],
            port=options["port"],
        )
        asyncio.run(self._serve(runtime))

    async def _serve(self, runtime: Runtime) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await runtime.start()
        except OSError as exc:  # the webhook port is taken, or the address is wrong
            await runtime.stop()
            raise CommandError(
                f"cannot serve webhooks on {runtime.listen}:{runtime.port}: {exc.strerror}",
                returncode=2,
            ) from exc
        hosting, skipped = status_lines(runtime)
        self.stdout.write(hosting)
        if skipped:
            self.stdout.write(self.style.WARNING(skipped))
        self.stdout.flush()
        try:
            await stop.wait()
        finally:
            await runtime.stop()
        self.stdout.write("bot runtime stopped")


def serve_parts(text: str, *, no_jobs: bool) -> list[str]:
    """``--serve``'s comma list, checked; ``--no-jobs`` takes "jobs" out of it."""
    parts = [part.strip() for part in text.split(",")]
    unknown = [part for part in parts if part not in SERVE_PARTS]
    if unknown or not text.strip():
        raise CommandError(
            f"--serve takes a comma list of {', '.join(SERVE_PARTS)}, got {text!r}",
            returncode=2,
        )
    if no_jobs:
        parts = [part for part in parts if part != JOBS]
        if not parts:
            raise CommandError("--no-jobs leaves --serve jobs nothing to serve", returncode=2)
    return [part for part in SERVE_PARTS if part in parts]


def shard_option(text: str | None, *, bot_ids: list[int] | None) -> Shard | None:
    """``--shard``, else ``BOT_SHARD``, parsed; named bots (``--bot``) are hosted whatever
    their shard, so the two together are refused rather than one silently ignored."""
    source = "--shard"
    if text is None and settings.BOT_SHARD:
        text, source = settings.BOT_SHARD, "BOT_SHARD"
    if text is None:
        return None
    try:
        shard = Shard.parse(text)
    except ValueError as exc:
        raise CommandError(f"{source} {exc}", returncode=2) from exc
    if bot_ids:
        raise CommandError(
            f"--bot hosts the bots named whatever their shard: drop {source} or --bot",
            returncode=2,
        )
    return shard


def status_lines(runtime: Runtime) -> tuple[str, str]:
    """What the runtime serves, and which bots it does not and why ("" if none)."""
    if runtime.updates:
        how = f" by webhooks at {runtime.webhook_base}" if runtime.webhook else " by long polling"
    else:
        how = " to send their notifications"
    hosting = f"hosting {len(runtime.bots)} bot(s){how}" if runtime.hosts_bots else "hosting no bot"
    shard = f"shard {runtime.shard}, " if runtime.shard is not None else ""
    serving = ", ".join(part for part in SERVE_PARTS if part in runtime.serve)
    hosting = f"bot runtime: {shard}{hosting}; serving {serving}. Ctrl-C to stop."
    skipped = ", ".join(f"{b} ({why})" for b, why in sorted(runtime.skipped.items()))
    return hosting, f"bot runtime: not serving {skipped}" if skipped else ""
