"""``manage.py raid_report verify --tenant SLUG --raid ID``: check a settled raid's
published payout report (``raids.results.report_verify``): its SHA-256 against the raid's
and the audit log's, its rows against the participants, its amounts against the wallet.
Exit 0 when everything agrees, 1 on any mismatch (each printed), 2 on bad arguments."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from config.errors import ServiceError
from raids.results import raid_get, report_verify
from tenancy.selectors import tenant_get


class Command(BaseCommand):
    help = "Verify a raid's payout report against its recorded SHA-256, its rows and the wallet."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        verify = sub.add_parser("verify", help="recompute and compare the report's SHA-256")
        verify.add_argument("--tenant", required=True, metavar="SLUG")
        verify.add_argument("--raid", required=True, type=int, metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_get(slug=options["tenant"])
        if tenant is None or tenant.is_public:
            raise CommandError(f"no community {options['tenant']!r}", returncode=2)
        with tenant_context(tenant):
            try:
                raid = raid_get(raid_id=options["raid"])
            except ServiceError as exc:
                raise CommandError(exc.message, returncode=2) from exc
            check = report_verify(tenant=tenant, raid=raid)
        self.stdout.write(f"raid {raid.pk}: report SHA-256 {check.computed}")
        self.stdout.write(f"  recorded on the raid:   {check.stored or '-'}")
        self.stdout.write(f"  recorded in the audit:  {check.recorded or '-'}")
        if not check.ok:
            for problem in check.problems:
                self.stderr.write(f"MISMATCH: {problem}")
            raise CommandError(f"raid {raid.pk}: the report does not verify", returncode=1)
        self.stdout.write("OK: the report, the audit log, the participants and the wallet agree")
