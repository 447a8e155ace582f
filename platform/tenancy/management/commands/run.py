"""``manage.py run``: what ``make run`` starts. Migrates, makes sure the demo tenant and
its sandbox bot exist, serves the platform on 127.0.0.1 and prints what to open."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from history.services import Actor
from tenancy.selectors import tenant_get
from tenancy.services import bot_register, tenant_create

# A made-up token for the sandbox bot: it only ever talks to the loopback Telegram.
DEFAULT_DEMO_BOT_TOKEN = "100000001:DEMO-sandbox-bot-token-not-real-000000"
DEMO_SLUG, DEMO_DOMAIN = "demo", "demo.localhost"


class Command(BaseCommand):
    help = "Set up the database and the demo tenant, then serve the platform."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-serve", action="store_true", help="set up, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("setup", verbosity=options["verbosity"])
        self._demo_tenant()
        self._start_bot_runtime()
        if options["no_serve"]:
            return
        port, host = options["port"], options["host"]
        self.stdout.write(self.style.SUCCESS("\nBragabot is running. Open:"))
        self.stdout.write(f"  API docs (demo tenant):  http://{DEMO_DOMAIN}:{port}/api/docs/")
        self.stdout.write(f"  OpenAPI schema:          http://{DEMO_DOMAIN}:{port}/api/schema/")
        self.stdout.write(
            f"  Platform API docs:       http://{settings.PUBLIC_DOMAIN}:{port}/api/docs/"
        )
        self.stdout.write(
            f"  Django admin (staff):    http://{settings.PUBLIC_DOMAIN}:{port}/admin/"
            "  (python manage.py createsuperuser)"
        )
        self.stdout.write("  Press Ctrl-C to stop.\n")
        import uvicorn

        uvicorn.run("config.asgi:application", host=host, port=port, log_level="warning", workers=1)

    def _demo_tenant(self) -> None:
        token = os.environ.get("DEMO_BOT_TOKEN", DEFAULT_DEMO_BOT_TOKEN)
        actor = Actor.system("make-run")
        tenant = tenant_get(slug=DEMO_SLUG)
        if tenant is None:
            tenant_create(
                slug=DEMO_SLUG,
                name="Demo community",
                kind="client",
                domain=DEMO_DOMAIN,
                bot_token=token,
                actor=actor,
            )
            self.stdout.write(f"created the demo tenant {DEMO_SLUG!r} at {DEMO_DOMAIN}")
        else:
            bot_register(tenant=tenant, token=token, actor=actor, audit=False)
            self.stdout.write(f"demo tenant {DEMO_SLUG!r} at {DEMO_DOMAIN} is ready")

    def _start_bot_runtime(self) -> None:
        # The bot runtime (platform/botruntime: sandbox Telegram, polling/webhooks, the
        # durable JobQueue) starts here once it exists; until then only the web API runs.
        self.stdout.write("bot runtime: not started (it arrives with platform/botruntime)")
