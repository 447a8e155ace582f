"""Check that audit chains are intact: ``manage.py history_verify [--tenant SLUG]``.

Prints one line per chain with its head (seq and hash: worth keeping somewhere else, as
a witness) and exits 1 when any chain is broken.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from history.chain import PLATFORM_CHAIN, chain_key
from history.selectors import archive_chain_keys, archive_verify, chain_keys, chain_verify
from tenancy.selectors import tenant_get


class Command(BaseCommand):
    help = "Verify the hash chains of the audit log (live entries, optionally archives)."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument("--tenant", help="only this tenant's chain (slug)")
        scope.add_argument("--platform", action="store_true", help="only the platform chain")
        parser.add_argument(
            "--archives", action="store_true", help="also verify the archive segments of each chain"
        )
        parser.add_argument(
            "--archive-dir",
            type=Path,
            default=None,
            help="archive directory (default: HISTORY_ARCHIVE_DIR)",
        )

    def handle(
        self, *args, tenant=None, platform=False, archives=False, archive_dir=None, **options
    ):
        if tenant:
            found = tenant_get(slug=tenant)
            if found is None:
                raise CommandError(f"no tenant with slug {tenant!r}", returncode=2)
            chains = [chain_key(None if found.is_public else found.pk)]
        elif platform:
            chains = [PLATFORM_CHAIN]
        else:
            chains = sorted(
                set(chain_keys())
                | (set(archive_chain_keys(directory=archive_dir)) if archives else set())
            )
        broken = 0
        for chain in chains:
            reports = []
            if archives:
                reports.append(("archive", archive_verify(chain=chain, directory=archive_dir)))
            reports.append(("live", chain_verify(chain=chain)))
            for part, report in reports:
                if report.ok:
                    self.stdout.write(
                        f"{chain} {part}: ok, {report.checked} entries checked, "
                        f"ends at {report.last_seq} {report.last_hash}"
                    )
                else:
                    broken += 1
                    self.stdout.write(f"{chain} {part}: BROKEN: {report.error}")
        if broken:
            raise CommandError(f"{broken} chain part(s) broken", returncode=1)
