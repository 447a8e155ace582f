"""``manage.py giveaway verify``: re-run a giveaway's draw from what was published.

``verify --tenant SLUG --giveaway ID`` reads the giveaway's published result from the
database; ``verify --file result.json`` needs nothing but the published data (what the
API's draw endpoint returns), so anyone outside the platform can check a draw. Checks:
sha256(secret) equals the commitment published at creation (for a stored giveaway, the
commitment column, not the copy inside the result), the entrant list matches its
digest, and the draw re-run gives the published winners. Exit 0 when all hold, 1 on a
mismatch, 2 when the input cannot be read."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from raids.giveaways import verify
from raids.models import Giveaway
from tenancy.models import Tenant


class Command(BaseCommand):
    help = "Verify a giveaway's commit-reveal draw from its published data."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        check = sub.add_parser("verify", help="re-run a published draw")
        check.add_argument("--tenant", help="the community's slug (with --giveaway)")
        check.add_argument("--giveaway", type=int, help="the giveaway's id (with --tenant)")
        check.add_argument("--file", help="a published result.json (instead of a tenant)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = self._published(options)
        verdict = verify(result)
        if verdict.ok:
            self.stdout.write(
                f"OK: commitment matches, {len(result['entrants'])} entrants, "
                f"winners {verdict.winners}"
            )
            return
        for problem in verdict.problems:
            self.stderr.write(f"MISMATCH: {problem}")
        sys.exit(1)

    def _published(self, options: dict[str, Any]) -> dict[str, Any]:
        if options.get("file"):
            try:
                with open(options["file"], encoding="utf-8") as handle:
                    data = json.load(handle)
            except (OSError, ValueError) as exc:
                self._fail(f"cannot read {options['file']}: {exc}")
            if not isinstance(data, dict):
                self._fail("the file holds no published draw (a JSON object)")
            return data
        if not options.get("tenant") or not options.get("giveaway"):
            self._fail("give --file, or --tenant and --giveaway")
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            self._fail(f"no tenant {options['tenant']!r}")
        with tenant_context(tenant):
            giveaway = Giveaway.objects.filter(pk=options["giveaway"]).first()
        if giveaway is None:
            self._fail(f"no giveaway {options['giveaway']} in {tenant.slug}")
        if giveaway.status != Giveaway.Status.DRAWN:
            self._fail(f"giveaway {giveaway.pk} is {giveaway.status}: nothing to verify yet")
        # The commitment as published at creation, not the copy stored with the result.
        return {**giveaway.result, "commitment": giveaway.commitment}

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        sys.exit(2)
