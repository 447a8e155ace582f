"""``manage.py xfeed run|rules|poll``: the X feed's worker from a shell.

run [--mode stream|poll]   until Ctrl-C / SIGTERM: the platform's filtered stream (its rules
                           synced every --resync seconds or on SIGHUP, a backfill after
                           every connect, communities with their own X app polled), or
                           polling only (``XFEED_MODE``, default stream): the platform's
                           round (``platform_poll``) every --tick seconds
rules                      each community's compiled queries, and whether it is streamed,
                           polled (own app, past X's rule limit) or paused (at its cap)
poll                       one poll-mode round of the platform now, as the ``xfeed.poll``
                           job runs it: the shared queries, then the own-app communities
poll --tenant SLUG         one round of that community's own queries now (``--backfill``:
                           every query, due or not)
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections
from django_tenants.utils import tenant_context

from tenancy.selectors import tenant_get
from xfeed.conf import xfeed_mode
from xfeed.polling import tenant_poll
from xfeed.queries import tenant_queries
from xfeed.shared_poll import platform_poll
from xfeed.stream import RESYNC_SECONDS, TICK_SECONDS, StreamWorker, stream_communities, stream_plan

MODES = ("stream", "poll")
logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the X feed (filtered stream or polling), show its rules, or poll once."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        run = sub.add_parser("run", help="stream or poll until Ctrl-C / SIGTERM")
        run.add_argument("--mode", choices=MODES, default=None, help="default: XFEED_MODE")
        run.add_argument(
            "--resync", type=float, default=RESYNC_SECONDS, help="seconds between rule syncs"
        )
        run.add_argument(
            "--tick", type=float, default=TICK_SECONDS, help="seconds between polling rounds"
        )
        sub.add_parser("rules", help="each community's compiled queries (stream rules)")
        poll = sub.add_parser("poll", help="one polling round (the platform's, or --tenant's)")
        poll.add_argument("--tenant", metavar="SLUG", help="that community's own queries")
        poll.add_argument("--backfill", action="store_true", help="every query, due or not")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    # ---- run
    def _run(self, options: dict[str, Any]) -> None:
        mode = options["mode"] or xfeed_mode()
        if mode not in MODES:
            raise CommandError(f"XFEED_MODE must be stream or poll, not {mode!r}", returncode=2)
        if mode == "stream" and not settings.X_BEARER_TOKEN:
            raise CommandError("X_BEARER_TOKEN is not set: the stream needs it", returncode=2)
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if mode == "stream":
                self._stream(stop, options)
            else:
                self._poll_loop(stop, options["tick"])
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("xfeed: stopped")

    def _stream(self, stop: threading.Event, options: dict[str, Any]) -> None:
        worker = StreamWorker(resync_seconds=options["resync"], tick_seconds=options["tick"])
        # SIGHUP: sync the rules now (after a bulk change), not at the next --resync.
        signal.signal(signal.SIGHUP, lambda signum, frame: worker.resync_wanted.set())
        try:
            worker.run(stop, say=self._say)
        finally:
            signal.signal(signal.SIGHUP, signal.SIG_DFL)

    def _say(self, line: str) -> None:
        self.stdout.write(line)
        self.stdout.flush()

    def _poll_loop(self, stop: threading.Event, tick: float) -> None:
        self.stdout.write(f"xfeed: polling the platform every {tick:g} s; Ctrl-C to stop")
        self.stdout.flush()
        rounds = 0
        while not stop.is_set():
            started = time.monotonic()
            close_old_connections()
            try:
                platform_poll()  # one community's failure does not stop the others
            except Exception:  # the shared round's (the database): the next round retries
                logger.exception("xfeed.poll_failed")
            rounds += 1
            stop.wait(max(0.0, tick - (time.monotonic() - started)))
        self.stdout.write(f"xfeed: {rounds} polling round(s)")

    # ---- rules
    def _rules(self, options: dict[str, Any]) -> None:
        plan = stream_plan()
        for tenant in stream_communities():
            if tenant.pk in plan.streamed:
                how = "stream"
            elif tenant.pk in plan.polled:
                how = (
                    "polled (over X's rule limit)"
                    if tenant.slug in plan.over_limit
                    else "polled (own X app)"
                )
            elif tenant.pk in plan.capped:
                how = "paused (monthly cap reached)"
            else:
                how = "nothing to read"
            with tenant_context(tenant):
                compiled = tenant_queries()
            self.stdout.write(f"{tenant.slug} (t{tenant.pk}): {how}, {len(compiled)} quer(ies)")
            for c in compiled:
                self.stdout.write(f"  t{tenant.pk}:{c.key}  {c.query}")
        self.stdout.write(f"{len(plan.rules)} stream rule(s)")

    # ---- poll
    def _poll(self, options: dict[str, Any]) -> None:
        if options["tenant"] is None:
            platform = platform_poll()
            shared = platform.shared
            self.stdout.write(
                f"shared: {len(shared.plan.queries)} quer(ies) for {len(shared.plan.shared)} "
                f"community(ies), searched {shared.searched}, calls {shared.calls}, "
                f"{shared.ingested}, billed only {shared.billed_only}, capped "
                f"{shared.capped or 'none'}, refused {shared.refused or 'no'}"
            )
            for slug, own in platform.own.items():
                self.stdout.write(f"{slug} (own app): {own}")
            return
        tenant = tenant_get(slug=options["tenant"])
        if tenant is None or tenant.is_public:
            raise CommandError(f"no community {options['tenant']!r}", returncode=2)
        result = tenant_poll(tenant=tenant, backfill=options["backfill"])
        self.stdout.write(f"{tenant.slug}: {result}")
