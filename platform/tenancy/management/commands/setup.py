"""``manage.py setup``: migrate every schema and keep the tenant template current.

Order matters: the public schema first, then the template (captured from the current
migrations), then every tenant schema through django-tenants' parallel executor.
"""

from __future__ import annotations

import os
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from config.dbserver import connection_url_export, database_ensure
from tenancy.schema_template import template_build
from tenancy.selectors import tenant_list
from tenancy.services import public_tenant_ensure


class Command(BaseCommand):
    help = "Migrate the public schema, rebuild the tenant template if needed, migrate tenants."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--executor",
            default=os.environ.get("EXECUTOR", "multiprocessing"),
            choices=["standard", "multiprocessing"],
            help="django-tenants executor for tenant schemas (default: multiprocessing)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        started = time.monotonic()
        created = database_ensure()
        if created:
            self.stdout.write(f"created the database {created!r}")
        connection_url_export()  # the parallel executor's workers
        self.stdout.write("migrating the public schema ...")
        call_command(
            "migrate_schemas", shared=True, interactive=False, verbosity=max(verbosity - 1, 0)
        )
        public_tenant_ensure()
        self.stdout.write("checking the tenant schema template ...")
        template_build()
        count = tenant_list().exclude(status="deleted").count()  # deleted: no schema
        if count:
            self.stdout.write(
                f"migrating {count} tenant schema(s) with the {options['executor']} executor ..."
            )
            call_command(
                "migrate_schemas",
                tenant=True,
                interactive=False,
                executor=options["executor"],
                verbosity=max(verbosity - 1, 0),
            )
        self.stdout.write(self.style.SUCCESS(f"setup done in {time.monotonic() - started:.1f}s"))
