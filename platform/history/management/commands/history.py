"""``manage.py history verify|archive``: check the audit chains, move old entries to files.

verify [--tenant SLUG | --platform] [--archives] [--archive-dir DIR] [--anchors DIR]
       [--no-seal]
    Seals pending entries first, then prints one line per chain with its head (seq and
    hash: worth keeping elsewhere, as a witness). Exits 1 naming the first broken entry
    when a chain is broken. With ``--anchors DIR`` (published heads, see ``anchor``) each
    chain must also still hold the hashes its anchors published: a chain rewritten with
    consistent hashes passes the plain check and fails this one.
anchor [--anchor-dir DIR]
    Append every chain's head to today's file in HISTORY_ARCHIVE_DIR/anchors/ and send
    its digest to platform staff (the daily ``history.anchors`` job does this).
seal
    Link every recorded, unsealed entry into its chain (the runtime does this every few
    seconds through the ``history.seal`` job).
archive --older-than 90d | --before ISO-TIME  [--tenant SLUG] [--archive-dir DIR]
    Writes entries older than the cut-off to gzip JSON Lines segments with a manifest
    (HISTORY_ARCHIVE_DIR/<chain>/), deletes them from the table, and records the boundary
    so verify still passes. Broken chains are left alone and reported (exit 1).
"""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import get_tenant_model

from config.errors import ServiceError
from history.anchors import Anchor, anchors_check, anchors_read
from history.chain import PLATFORM_CHAIN, chain_key
from history.selectors import archive_chain_keys, archive_verify, chain_keys, chain_verify
from history.services import (
    anchors_publish,
    archive_all,
    archive_directory,
    chain_archive,
    history_seal,
)

if TYPE_CHECKING:
    from tenancy.models import Tenant

_DURATION = re.compile(r"^(\d+)([wdhms])$")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``2w``, ``30m``, ``45s``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90d, 12h or 2w")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = "Verify the audit log's hash chains, or archive old entries to files."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        verify = sub.add_parser("verify", help="verify the hash chains")
        scope = verify.add_mutually_exclusive_group()
        scope.add_argument("--tenant", help="only this tenant's chain (slug)")
        scope.add_argument("--platform", action="store_true", help="only the platform chain")
        verify.add_argument(
            "--archives", action="store_true", help="also verify the archive segments of each chain"
        )
        verify.add_argument(
            "--archive-dir",
            type=Path,
            default=None,
            help="archive directory (default: HISTORY_ARCHIVE_DIR)",
        )
        verify.add_argument(
            "--anchors",
            type=Path,
            default=None,
            metavar="DIR",
            help="also check each chain against the heads published in DIR (anchor files)",
        )
        verify.add_argument(
            "--no-seal",
            action="store_true",
            help="verify only what is sealed; leave pending entries alone",
        )
        sub.add_parser("seal", help="link recorded entries into their chains now")
        anchor = sub.add_parser("anchor", help="publish every chain's head outside the database")
        anchor.add_argument(
            "--anchor-dir",
            type=Path,
            default=None,
            help="where anchor files go (default: HISTORY_ARCHIVE_DIR/anchors)",
        )

        archive = sub.add_parser("archive", help="move old entries to archive files")
        cutoff = archive.add_mutually_exclusive_group(required=True)
        cutoff.add_argument(
            "--older-than",
            type=duration,
            default=None,
            metavar="AGE",
            help="archive entries older than AGE, e.g. 90d, 12h, 2w",
        )
        cutoff.add_argument(
            "--before",
            type=datetime.fromisoformat,
            default=None,
            help="archive entries created before this ISO 8601 time (UTC unless it names a zone)",
        )
        archive.add_argument("--tenant", help="only this tenant's chain (slug)")
        archive.add_argument(
            "--archive-dir",
            type=Path,
            default=None,
            help="archive directory (default: HISTORY_ARCHIVE_DIR)",
        )
        archive.add_argument(
            "--batch-size", type=int, default=10_000, help="entries per segment file"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "seal":
            self.stdout.write(f"sealed {history_seal()} entries")
        elif action == "verify":
            self._verify(**options)
        elif action == "anchor":
            published = anchors_publish(directory=options["anchor_dir"])
            self.stdout.write(
                f"{published.count} chain heads appended to {published.path} "
                f"(sha256 {published.sha256}), {published.announced} staff message(s) queued"
            )
        else:
            self._archive(**options)

    def _tenant(self, slug: str) -> Tenant:
        # The tenant model as django-tenants names it (history sits below tenancy). Its
        # base manager: a deleted tenant is found too, since its audit trail outlives it.
        found = get_tenant_model()._base_manager.filter(slug=slug).first()
        if found is None:
            raise CommandError(f"no tenant with slug {slug!r}", returncode=2)
        return found

    def _verify(
        self,
        *,
        tenant: Tenant | None = None,
        platform=False,
        archives=False,
        archive_dir=None,
        anchors=None,
        no_seal=False,
        **_,
    ):
        if not no_seal:
            history_seal()
        published: dict[str, list[Anchor]] = {}
        broken = 0
        if anchors is not None:
            if not anchors.is_dir():
                raise CommandError(f"no anchor directory {anchors}", returncode=2)
            published, bad_lines = anchors_read(directory=anchors)
            for line in bad_lines:
                broken += 1
                self.stdout.write(f"anchors: BROKEN: {line}")
        if tenant:
            found = self._tenant(tenant)
            chains = [chain_key(None if found.is_public else found.pk)]
        elif platform:
            chains = [PLATFORM_CHAIN]
        else:
            chains = sorted(
                set(chain_keys())
                | (set(archive_chain_keys(directory=archive_dir)) if archives else set())
                | set(published)
            )
        for chain in chains:
            reports = []
            if archives:
                reports.append(("archive", archive_verify(chain=chain, directory=archive_dir)))
            reports.append(("live", chain_verify(chain=chain)))
            for part, report in reports:
                if report.ok:
                    pending = f", {report.pending} pending seal" if report.pending else ""
                    self.stdout.write(
                        f"{chain} {part}: ok, {report.checked} entries checked, "
                        f"ends at {report.last_seq} {report.last_hash}{pending}"
                    )
                else:
                    broken += 1
                    self.stdout.write(f"{chain} {part}: BROKEN: {report.error}")
            if anchors is not None:
                broken += self._verify_anchors(chain, published.get(chain, []), archive_dir)
        if broken:
            raise CommandError(f"{broken} chain part(s) broken", returncode=1)

    def _verify_anchors(self, chain: str, published: list[Anchor], archive_dir) -> int:
        if not published:
            self.stdout.write(f"{chain} anchors: none published yet")
            return 0
        report = anchors_check(
            chain=chain,
            anchors=published,
            archive_dir=archive_dir if archive_dir is not None else archive_directory(),
        )
        if not report.ok:
            self.stdout.write(f"{chain} anchors: BROKEN: {report.error}")
            return 1
        self.stdout.write(f"{chain} anchors: ok, {report.checked} published heads match")
        return 0

    def _archive(
        self,
        *,
        older_than=None,
        before=None,
        tenant: Tenant | None = None,
        archive_dir=None,
        batch_size=10_000,
        **_,
    ):
        if before is None:
            before = datetime.now(UTC) - older_than
        elif before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
        try:
            if tenant:
                segments = chain_archive(
                    tenant=self._tenant(tenant),
                    before=before,
                    directory=archive_dir,
                    batch_size=batch_size,
                )
                refused: dict[str, str] = {}
            else:
                segments, refused = archive_all(
                    before=before, directory=archive_dir, batch_size=batch_size
                )
        except ServiceError as exc:
            raise CommandError(exc.message, returncode=2) from exc
        for segment in segments:
            self.stdout.write(
                f"{segment.chain}: entries {segment.first_seq}..{segment.last_seq} "
                f"-> {segment.path} (sha256 {segment.sha256})"
            )
        total = sum(segment.count for segment in segments)
        self.stdout.write(
            f"archived {total} entries in {len(segments)} segment(s) (cutoff {before.isoformat()})"
        )
        for message in refused.values():
            self.stderr.write(message)
        if refused:
            raise CommandError(f"{len(refused)} broken chain(s) left unarchived", returncode=1)
