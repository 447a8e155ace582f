"""Retention: ``manage.py history_archive --older-than-days 365 [--tenant SLUG]`` moves
old audit entries into archive segments (HISTORY_ARCHIVE_DIR) and out of the table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.errors import ServiceError
from history.services import archive_all, chain_archive
from tenancy.selectors import tenant_get

DEFAULT_RETENTION_DAYS = 365


class Command(BaseCommand):
    help = "Archive audit entries older than a cutoff to files, chain by chain."

    def add_arguments(self, parser):
        cutoff = parser.add_mutually_exclusive_group()
        cutoff.add_argument(
            "--older-than-days",
            type=int,
            default=None,
            help="archive entries older than this many days (default: "
            "HISTORY_RETENTION_DAYS, else 365)",
        )
        cutoff.add_argument(
            "--before",
            type=datetime.fromisoformat,
            default=None,
            help="archive entries created before this ISO 8601 time (UTC unless it names a zone)",
        )
        parser.add_argument("--tenant", help="only this tenant's chain (slug)")
        parser.add_argument(
            "--archive-dir",
            type=Path,
            default=None,
            help="archive directory (default: HISTORY_ARCHIVE_DIR)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=10_000, help="entries per segment file"
        )

    def handle(
        self,
        *args,
        older_than_days=None,
        before=None,
        tenant=None,
        archive_dir=None,
        batch_size=10_000,
        **options,
    ):
        if before is None:
            days = (
                older_than_days
                if older_than_days is not None
                else getattr(settings, "HISTORY_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
            )
            if days < 0:
                raise CommandError("--older-than-days must not be negative", returncode=2)
            before = datetime.now(UTC) - timedelta(days=days)
        elif before.tzinfo is None:
            before = before.replace(tzinfo=UTC)
        try:
            if tenant:
                found = tenant_get(slug=tenant)
                if found is None:
                    raise CommandError(f"no tenant with slug {tenant!r}", returncode=2)
                segments = chain_archive(
                    tenant=found, before=before, directory=archive_dir, batch_size=batch_size
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
