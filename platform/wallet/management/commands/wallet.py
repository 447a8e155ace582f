"""``manage.py wallet verify``: check the whole ledger against its invariants.

Every stored balance (and version) equals the sum (and count) of its account's entries;
every transfer has two entries that balance it; each currency sums to zero over all
accounts; every account's entries form an unbroken chain (versions 1, 2, ..., each
``balance_before`` the previous ``balance_after``); no account that is not a system
account is negative; each escrow account holds exactly its open holds' remainders.
Exits 0 with a summary, or 1 printing the first discrepancy.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from wallet.selectors import ledger_check


class Command(BaseCommand):
    help = "Verify the ledger: balances, entry chains, zero sums."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("verify", help="check every invariant of the ledger")

    def handle(self, *args: Any, **options: Any) -> None:
        result = ledger_check()
        if result.problem is not None:
            raise CommandError(f"wallet verify: {result.problem}", returncode=1)
        self.stdout.write(
            f"wallet verify: OK ({result.accounts} accounts, {result.transfers} transfers, "
            f"{result.entries} entries)"
        )
