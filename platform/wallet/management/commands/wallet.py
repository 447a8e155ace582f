"""``manage.py wallet verify``: check the whole ledger against its invariants.

Every stored balance (and version) equals the sum (and count) of its account's entries;
every transfer has two entries that balance it; each currency sums to zero over all
accounts; every account's entries form an unbroken chain (versions 1, 2, ..., each
``balance_before`` the previous ``balance_after``); no account that is not a system
account is negative; each escrow account holds exactly its open holds' remainders.
Exits 0 with a summary, or 1 printing the first discrepancy.

``wallet stars-reconcile`` runs the daily Stars reconciliation now;
``wallet unfreeze SLUG CHAT_ID`` lifts a group's spending freeze (once its shortfall is
settled), audited as the system's ``staff-command``.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from history.services import Actor
from tenancy.selectors import tenant_get
from wallet.selectors import ledger_check
from wallet.services import spending_unfreeze, stars_reconcile


class Command(BaseCommand):
    help = "Verify the ledger: balances, entry chains, zero sums."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("verify", help="check every invariant of the ledger")
        sub.add_parser("stars-reconcile", help="match the bots' Stars transactions now")
        unfreeze = sub.add_parser("unfreeze", help="lift a group's spending freeze")
        unfreeze.add_argument("slug")
        unfreeze.add_argument("chat_id", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "stars-reconcile":
            done = stars_reconcile()
            self.stdout.write(
                f"wallet stars-reconcile: {done.bots} bots, {done.transactions} transactions, "
                f"{done.credited} credited, {done.reversed} reversed, {done.frozen} frozen, "
                f"{len(done.mismatches)} mismatches"
            )
            for line in done.mismatches:
                self.stdout.write(f"  {line}")
            return
        if options["action"] == "unfreeze":
            tenant = tenant_get(slug=options["slug"])
            if tenant is None:
                raise CommandError(f"no tenant {options['slug']!r}", returncode=2)
            lifted = spending_unfreeze(
                tenant=tenant,
                owner_kind="group",
                owner_id=options["chat_id"],
                actor=Actor.system("staff-command"),
            )
            self.stdout.write("unfrozen" if lifted else "not frozen")
            return
        result = ledger_check()
        if result.problem is not None:
            raise CommandError(f"wallet verify: {result.problem}", returncode=1)
        self.stdout.write(
            f"wallet verify: OK ({result.accounts} accounts, {result.transfers} transfers, "
            f"{result.entries} entries)"
        )
