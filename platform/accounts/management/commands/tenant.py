"""``manage.py tenant create|owner|list|suspend|resume|delete``: the tenant lifecycle from
a shell.

Errors print one clear line to stderr and exit with status 2; nothing is created.
In accounts, the lowest app that may name an owner (a membership): the lifecycle
itself is ``tenancy.services``'.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from accounts.services import tenant_owner_set
from config.errors import ServiceError
from history.services import Actor
from tenancy.models import Tenant
from tenancy.selectors import tenant_get, tenant_list
from tenancy.services import tenant_create, tenant_delete, tenant_resume, tenant_suspend

CLI = Actor.system("cli")


class Command(BaseCommand):
    help = "Create, list, suspend, resume or delete tenants, or name a tenant's owner."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="create a tenant with its schema and domain")
        create.add_argument("--slug", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("--kind", choices=Tenant.Kind.values, default=Tenant.Kind.GROUP)
        create.add_argument("--domain", required=True)
        create.add_argument(
            "--owner-telegram-id",
            type=int,
            default=None,
            help="the Telegram user id of the tenant's first owner; without one, nobody can "
            "connect a group by adding the bot until staff name an owner (tenant owner)",
        )
        create.add_argument("--bot-token", default=None, help="the tenant's Telegram bot token")
        create.add_argument("--plan", default="free")
        owner = sub.add_parser("owner", help="make a Telegram user an owner of a tenant")
        owner.add_argument("slug")
        owner.add_argument("--telegram-id", type=int, required=True)
        listing = sub.add_parser("list", help="list tenants")
        listing.add_argument("--status", choices=Tenant.Status.values, default=None)
        for name, text in (
            ("suspend", "suspend a tenant (its API answers 403)"),
            ("resume", "resume a suspended tenant"),
        ):
            one = sub.add_parser(name, help=text)
            one.add_argument("slug")
            if name == "suspend":
                one.add_argument("--reason", default="")
        delete = sub.add_parser("delete", help="delete a tenant and drop all of its data")
        delete.add_argument("slug")
        delete.add_argument(
            "--confirm",
            default=None,
            help="repeat the slug to confirm (asked interactively otherwise)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, f"_{action}")(options)
        except ServiceError as exc:
            self.stderr.write(self.style.ERROR(f"error: {exc.message}"))
            sys.exit(2)

    def _tenant(self, slug: str) -> Tenant:
        # A deleted tenant is found so that the service says it is deleted.
        tenant = tenant_get(slug=slug, include_deleted=True)
        if tenant is None or tenant.is_public:
            raise ServiceError(f"no tenant with slug {slug!r}", code="not_found")
        return tenant

    def _create(self, options: dict[str, Any]) -> None:
        tenant = tenant_create(
            slug=options["slug"],
            name=options["name"],
            kind=options["kind"],
            domain=options["domain"],
            owner_telegram_id=options["owner_telegram_id"],
            bot_token=options["bot_token"],
            plan=options["plan"],
            actor=CLI,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"created tenant {tenant.slug} ({tenant.kind}) schema={tenant.schema_name} "
                f"domain={options['domain'].lower()}"
                + (" with its bot" if options["bot_token"] else "")
                + (
                    f" owned by {options['owner_telegram_id']}"
                    if options["owner_telegram_id"] is not None
                    else " with no owner (name one: tenant owner SLUG --telegram-id ID)"
                )
            )
        )

    def _owner(self, options: dict[str, Any]) -> None:
        tenant = self._tenant(options["slug"])
        tenant_owner_set(tenant=tenant, owner_telegram_id=options["telegram_id"], actor=CLI)
        self.stdout.write(
            self.style.SUCCESS(f"{options['telegram_id']} is now an owner of {tenant.slug}")
        )

    def _list(self, options: dict[str, Any]) -> None:
        rows = [
            (
                t.slug,
                t.kind,
                t.status,
                t.plan,
                ",".join(d.domain for d in t.domains.all()),
                t.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for t in tenant_list(status=options["status"])
        ]
        header = ("SLUG", "KIND", "STATUS", "PLAN", "DOMAINS", "CREATED")
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
        self.stdout.write(f"{len(rows)} tenant(s)")

    def _suspend(self, options: dict[str, Any]) -> None:
        tenant = tenant_suspend(
            tenant=self._tenant(options["slug"]), reason=options["reason"], actor=CLI
        )
        self.stdout.write(self.style.SUCCESS(f"suspended {tenant.slug}"))

    def _resume(self, options: dict[str, Any]) -> None:
        tenant = tenant_resume(tenant=self._tenant(options["slug"]), actor=CLI)
        self.stdout.write(self.style.SUCCESS(f"resumed {tenant.slug}"))

    def _delete(self, options: dict[str, Any]) -> None:
        tenant = self._tenant(options["slug"])
        confirm = options["confirm"]
        if confirm is None:
            if not sys.stdin.isatty():
                raise ServiceError(
                    f"deleting drops all data of {tenant.slug!r}; pass --confirm {tenant.slug}",
                    code="confirmation_required",
                )
            confirm = input(f"This drops all data of {tenant.slug!r}. Type the slug to confirm: ")
        tenant_delete(tenant=tenant, confirm=confirm.strip(), actor=CLI)
        self.stdout.write(self.style.SUCCESS(f"deleted {tenant.slug} (schema dropped, audit kept)"))
