"""``manage.py run``: what ``make run`` starts. Migrates, makes sure the demo tenant and
its sandbox bot exist, starts the sandbox Telegram (unless a real Telegram is configured),
the sandbox payment provider (unless WALLET_PROVIDERS is set), the sandbox X (unless an
X API is configured), the bot runtime and the X feed's stream worker; on the sandboxes,
the demo group forwards the demo project's X account, which posts now and then
(``devserver.demo``). Serves the platform on 127.0.0.1 and prints what to open. Ctrl-C
stops everything."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from branding.services.bots import custom_bots_resume
from config.dbserver import connection_url_export
from config.errors import ServiceError
from devserver.demo import (
    DEMO_GROUP_TITLE,
    POST_EVERY,
    DemoPoster,
    demo_forwarding_ensure,
    demo_group_ensure,
)
from devserver.raid_demo import DEMO_X_ALICE, demo_alice_link, demo_raid_ensure
from history.services import Actor
from provisioner.local import local_backend_stop
from tenancy.models import Tenant
from tenancy.services import demo_tenant_ensure

# A made-up token for the sandbox bot: it only ever talks to the loopback Telegram.
DEFAULT_DEMO_BOT_TOKEN = "100000001:DEMO-sandbox-bot-token-not-real-000000"
DEMO_SLUG, DEMO_DOMAIN = "demo", "demo.localhost"
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", "8081"))
SANDBOX_PROVIDER_PORT = int(os.environ.get("SANDBOX_PROVIDER_PORT", "8082"))
SANDBOX_X_PORT = int(os.environ.get("SANDBOX_X_PORT", "8083"))
# The platform's app token on the sandbox X: it only ever talks to the loopback X.
DEMO_X_BEARER_TOKEN = "demo-sandbox-x-app-token-not-real"
DEMO_X_PROJECT = "bragabot_demo"  # the demo project's account on the sandbox X
# Its id, the same on every run (as X keeps an account's id): the demo group's
# forwarding, kept in the database, follows the same account on each fresh sandbox.
DEMO_X_PROJECT_ID = 1_500_000_000_000_000_001
DEMO_X_OAUTH_CLIENT = "bragabot-demo-oauth-client"  # the platform's OAuth client there
DEMO_BOT_USERNAME = "demo_bot"  # on the sandbox Telegram
DEMO_VALIDATE_EVERY = 15  # seconds between the demo raid's validation passes
DEMO_USER_ID = 1001  # a person on the sandbox Telegram to chat with the demo bot as


def _demo_token() -> str:
    return os.environ.get("DEMO_BOT_TOKEN", DEFAULT_DEMO_BOT_TOKEN)


def _sandboxed() -> bool:
    """No real Telegram configured (TELEGRAM_API_BASE, or a real DEMO_BOT_TOKEN): the
    demo runs against the sandbox Telegram."""
    return "TELEGRAM_API_BASE" not in os.environ and _demo_token() == DEFAULT_DEMO_BOT_TOKEN


def _start_on(port: int, make: Callable[[int], Any]) -> tuple[Any, str]:
    """A sandbox ``make(port)`` started on ``port``, or on any free port when that one is
    taken; (the sandbox, its base URL)."""
    try:
        server = make(port)
        return server, server.start()
    except OSError:
        server = make(0)
        return server, server.start()


class Command(BaseCommand):
    help = "Set up the database and the demo tenant, then serve the platform."

    # What the sandboxes started (None: a real service is configured instead).
    tenant: Tenant | None = None
    x: Any = None
    tg: Any = None
    demo_bot_id: int | None = None

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-serve", action="store_true", help="set up, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        connection_url_export()
        call_command("setup", verbosity=options["verbosity"])
        self._demo_tenant()
        if options["no_serve"]:
            return
        port, host = options["port"], options["host"]
        stop_provider = self._start_sandbox_provider(port=port)
        stop_x = self._start_sandbox_x(port=port)
        stop_bots = self._start_bot_runtime(port=port)
        self._resume_isolated_bots()
        stop_demo = self._start_demo_feed()
        stop_feed = self._start_x_feed()
        try:
            self.stdout.write(self.style.SUCCESS("\nBragabot is running. Open:"))
            self.stdout.write(f"  Demo community:          http://{DEMO_DOMAIN}:{port}/")
            self.stdout.write(f"  API docs (demo tenant):  http://{DEMO_DOMAIN}:{port}/api/docs/")
            self.stdout.write(f"  OpenAPI schema:          http://{DEMO_DOMAIN}:{port}/api/schema/")
            self.stdout.write(
                f"  Platform API docs:       http://{settings.PUBLIC_DOMAIN}:{port}/api/docs/"
            )
            self.stdout.write(
                f"  Django admin (staff):    http://{settings.PUBLIC_DOMAIN}:{port}/admin/"
            )
            self.stdout.write(
                "    a staff login: BRAGABOT_ENV=development .venv/bin/python manage.py "
                "createsuperuser"
            )
            self.stdout.write(
                "  Isolated bots run as processes here (provisioner's local backend): "
                f"{settings.PROVISIONER_LOCAL_DIR}/<tenant>/<bot id>/bot.log"
            )
            self.stdout.write("  Press Ctrl-C to stop.\n")
            import uvicorn

            os.environ.setdefault("WEB_SERVE_STATIC", "1")  # the admin's CSS and JS
            uvicorn.run(
                "config.asgi:application", host=host, port=port, log_level="warning", workers=1
            )
        except KeyboardInterrupt:
            pass  # uvicorn hands Ctrl-C back once it has shut down
        finally:
            local_backend_stop()  # the bots deployed as processes of their own
            stop_feed()
            stop_demo()
            stop_bots()
            stop_x()
            stop_provider()

    def _resume_isolated_bots(self) -> None:
        """The isolated bots deployed before this run get their processes back (the local
        backend's processes ended with the previous run)."""
        resumed = sum(
            custom_bots_resume(tenant=tenant)
            for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).exclude(
                schema_name="public"
            )
        )
        if resumed:
            self.stdout.write(f"resumed {resumed} isolated bot(s) as processes of their own")

    def _demo_tenant(self) -> None:
        tenant, created = demo_tenant_ensure(
            slug=DEMO_SLUG,
            name="Demo community",
            domain=DEMO_DOMAIN,
            bot_token=_demo_token(),
            bot_username=DEMO_BOT_USERNAME if _sandboxed() else "",
            # Alice, the sandbox's person, owns the demo: she can add its bot to a group.
            owner_telegram_id=DEMO_USER_ID,
            actor=Actor.system("make-run"),
        )
        self.tenant = tenant
        if created:
            self.stdout.write(f"created the demo tenant {tenant.slug!r} at {DEMO_DOMAIN}")
        else:
            self.stdout.write(f"demo tenant {tenant.slug!r} at {DEMO_DOMAIN} is ready")

    def _start_sandbox_provider(self, *, port: int) -> Callable[[], None]:
        """Unless WALLET_PROVIDERS names real payment providers, start the sandbox provider
        (its default keys are the development default of WALLET_PROVIDERS), deliver its
        webhooks to this server and point the platform at it. Returns what stops it."""
        if "WALLET_PROVIDERS" in os.environ:
            return lambda: None
        from dataclasses import replace

        from sandbox.provider import SandboxProvider

        webhook = f"http://{settings.PUBLIC_DOMAIN}:{port}/api/v1/wallet/deposits/webhook/sandbox"
        provider, base = _start_on(
            SANDBOX_PROVIDER_PORT, lambda port: SandboxProvider(port=port, webhook_url=webhook)
        )
        configured = settings.WALLET_PROVIDERS.get("sandbox")
        if configured is not None:
            settings.WALLET_PROVIDERS = {
                **settings.WALLET_PROVIDERS,
                "sandbox": replace(configured, base_url=base),
            }
        self.stdout.write(f"sandbox payment provider: {base}/ (deposits, payouts)")
        return provider.stop

    def _start_sandbox_x(self, *, port: int) -> Callable[[], None]:
        """Unless an X API is configured (X_API_BASE or X_BEARER_TOKEN), start the sandbox X
        with the platform's app token, its OAuth client (connecting X accounts) and the
        demo project's account, and point the platform at it. Returns what stops it."""
        if "X_API_BASE" in os.environ or "X_BEARER_TOKEN" in os.environ:
            return lambda: None
        from sandbox.x import SandboxX

        x, base = _start_on(SANDBOX_X_PORT, lambda port: SandboxX(port=port))
        x.add_app(DEMO_X_BEARER_TOKEN)
        x.add_account(DEMO_X_PROJECT, name="Bragabot demo project", account_id=DEMO_X_PROJECT_ID)
        settings.X_API_BASE, settings.X_BEARER_TOKEN = base, DEMO_X_BEARER_TOKEN
        self.x = x
        if not settings.X_OAUTH_CLIENT_ID:
            callback = f"http://{settings.PUBLIC_DOMAIN}:{port}/x/callback"
            x.add_oauth_client(DEMO_X_OAUTH_CLIENT, [callback])
            settings.X_OAUTH_CLIENT_ID = DEMO_X_OAUTH_CLIENT
            settings.X_OAUTH_REDIRECT_URI = callback
            # The demo serves plain http on loopback; oauthlib's development switch lets the
            # callback through (production: https, and this stays unset).
            os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
        self.stdout.write(f"sandbox X: {base}/sandbox/ (post, reply, like as any account)")
        return x.stop

    def _start_x_feed(self) -> Callable[[], None]:
        """In stream mode (``XFEED_MODE``, the default) run the X feed's stream worker in
        a background thread, as ``manage.py xfeed run`` does (in poll mode the durable
        job ``xfeed.poll`` of the bot runtime polls). Returns what stops it."""
        from django.db import connection

        from xfeed.conf import xfeed_mode
        from xfeed.stream import StreamWorker

        if xfeed_mode() != "stream" or not settings.X_BEARER_TOKEN:
            return lambda: None
        stop = threading.Event()
        worker = StreamWorker()

        def serve() -> None:
            try:
                worker.run(stop, say=self.stdout.write)
            except Exception as exc:  # the demo goes on without the feed
                self.stderr.write(f"x feed: stopped ({exc!r})")
            finally:
                connection.close()

        thread = threading.Thread(target=serve, name="x feed", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(15)

        return halt

    def _start_bot_runtime(self, *, port: int) -> Callable[[], None]:
        """Start the bot runtime (every bot, durable jobs) in a background thread; unless
        a real Telegram is configured (TELEGRAM_API_BASE set, or a real DEMO_BOT_TOKEN),
        first start the sandbox Telegram with the demo bot and point the platform at it.
        Returns what stops both."""
        from botruntime.runtime import Runtime, RuntimeThread
        from botruntime.services import updates_forget

        sandbox = None
        if _sandboxed():
            from sandbox.telegram import SandboxTelegram

            sandbox, base = _start_on(SANDBOX_PORT, lambda port: SandboxTelegram(port=port))
            bot = sandbox.add_bot(
                _demo_token(), username=DEMO_BOT_USERNAME, first_name="Demo community"
            )
            # A fresh sandbox numbers updates from 1 again: forget the last run's.
            updates_forget(bot_id=bot["id"])
            sandbox.add_user(DEMO_USER_ID, "Alice", username="alice", language_code="en")
            self.tg, self.demo_bot_id = sandbox, bot["id"]
            settings.TELEGRAM_API_BASE = os.environ["TELEGRAM_API_BASE"] = base
            if "MINI_APP_URL" not in os.environ:  # the sandbox opens plain-http Mini Apps
                settings.MINI_APP_URL = f"http://{{domain}}:{port}/"
            self.stdout.write(
                f"sandbox Telegram: {base}/sandbox/ (chat with @{bot['username']} as Alice)"
            )
        thread = RuntimeThread(Runtime())
        try:
            thread.start_and_wait()
        except RuntimeError as exc:
            self.stderr.write(f"bot runtime: not started ({exc.__cause__!r})")
        else:
            runtime = thread.runtime
            self.stdout.write(
                f"bot runtime: hosting {len(runtime.bots)} bot(s) by long polling against "
                f"{settings.TELEGRAM_API_BASE}; durable jobs on"
            )

        def stop() -> None:
            thread.stop()
            if sandbox is not None:
                sandbox.stop()

        return stop

    def _start_demo_feed(self) -> Callable[[], None]:
        """On the sandboxes only: the demo group (created on the sandbox Telegram, bound
        as adding the bot binds it) forwards the demo project's account, which starts
        posting on the sandbox X. Returns what stops the posting."""
        if self.x is None or self.tg is None or self.tenant is None or self.demo_bot_id is None:
            return lambda: None
        try:
            chat_id = demo_group_ensure(
                tenant=self.tenant, tg=self.tg, bot_id=self.demo_bot_id, owner_id=DEMO_USER_ID
            )
            demo_forwarding_ensure(tenant=self.tenant, chat_id=chat_id, username=DEMO_X_PROJECT)
        except ServiceError as exc:
            self.stderr.write(f"X feed demo: not set up ({exc.message})")
            return lambda: None
        self._start_demo_raid(chat_id)
        poster = DemoPoster(self.x, DEMO_X_PROJECT)
        poster.start()
        low, high = POST_EVERY
        self.stdout.write(
            f"X feed demo: @{DEMO_X_PROJECT} posts on the sandbox X every {low:g}-{high:g} s; "
            f"forwarded to {DEMO_GROUP_TITLE!r} (open it as Alice)"
        )
        return poster.stop

    def _start_demo_raid(self, chat_id: int) -> None:
        """On the sandboxes only: Alice has ``@alice`` on the sandbox X linked, and the demo
        group runs a funded raid on a fresh post of the demo project, validated every
        ``RAIDS_VALIDATE_EVERY_SECONDS`` (15 s here unless set)."""
        if self.x is None or self.tenant is None:
            return
        if "RAIDS_VALIDATE_EVERY_SECONDS" not in os.environ:
            settings.RAIDS_VALIDATE_EVERY_SECONDS = DEMO_VALIDATE_EVERY
        try:
            demo_alice_link(tenant=self.tenant, x=self.x, telegram_id=DEMO_USER_ID)
            demo = demo_raid_ensure(
                tenant=self.tenant, x=self.x, chat_id=chat_id, project=DEMO_X_PROJECT
            )
        except ServiceError as exc:
            self.stderr.write(f"raid demo: not set up ({exc.message})")
            return
        raid = demo.raid
        self.stdout.write(
            f"raid demo: raid #{raid.pk} on {demo.post_url} (100 USDT pool, 2 hours) in "
            f"{DEMO_GROUP_TITLE!r}. As Alice, send /start raid_{raid.pk} to @{DEMO_BOT_USERNAME} "
            f"(or press Join in the group), repost the post as @{DEMO_X_ALICE} on the sandbox "
            f"X, and within {settings.RAIDS_VALIDATE_EVERY_SECONDS} s the bot tells Alice it "
            "is verified (/progress shows it too)"
        )
