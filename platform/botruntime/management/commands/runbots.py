"""``manage.py runbots``: host the bots and run the durable jobs until Ctrl-C / SIGTERM.

runbots [--bot ID ...] [--webhook URL] [--listen HOST] [--port N] [--no-jobs]

Without ``--webhook`` every bot long-polls. With it, one HTTP server on
``--listen:--port`` receives every bot's updates at ``URL/telegram/webhook/<bot_id>``
(URL is the public address Telegram reaches, e.g. behind a TLS proxy).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from botruntime.runtime import Runtime


class Command(BaseCommand):
    help = "Host the Telegram bots (long polling or webhooks) and run the durable jobs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bot",
            type=int,
            action="append",
            dest="bot_ids",
            metavar="ID",
            help="host only this bot (Telegram id); repeat for several (default: all)",
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
        runtime = Runtime(
            bot_ids=options["bot_ids"],
            webhook_url=webhook,
            listen=options["listen"],
            port=options["port"],
            jobs=not options["no_jobs"],
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


def status_lines(runtime: Runtime) -> tuple[str, str]:
    """What the runtime serves, and which bots it does not and why ("" if none)."""
    mode = f"webhooks at {runtime.webhook_base}" if runtime.webhook else "long polling"
    jobs = "durable jobs on" if runtime.jobs else "durable jobs off"
    hosting = f"bot runtime: hosting {len(runtime.bots)} bot(s) by {mode}; {jobs}. Ctrl-C to stop."
    skipped = ", ".join(f"{b} ({why})" for b, why in sorted(runtime.skipped.items()))
    return hosting, f"bot runtime: not serving {skipped}" if skipped else ""
